//! Isolation: a workshop whose ERP hangs, whose browser keeps crashing and
//! which gets a flood of orders does not slow another down. Its own test
//! binary, so the timing it compares is not disturbed by other tests
//! (cargo runs test binaries one after another).

#[path = "e2e/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "e2e/host_support.rs"]
#[allow(dead_code)]
mod host_support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use helpers::*;
use host_support::*;

/// Writes a host config with two au2office workshops; (config path, data dir, ports).
fn two_workshop_config(
    dir: &Path,
    a: &Sandbox,
    b: &Sandbox,
) -> (std::path::PathBuf, std::path::PathBuf, u16, u16) {
    let data = dir.join("data");
    let (port_a, port_b) = (free_port(), free_port());
    let config = dir.join("oilmat.toml");
    let table = |name: &str, url: &str, port: u16| {
        format!("[workshops.{name}]\nerp_type = \"au2office\"\nerp_url = \"{url}\"\nport = {port}\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n")
    };
    let text = format!(
        "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n{}{}",
        data.display(),
        table("noisy", a.url(), port_a),
        table("quiet", b.url(), port_b)
    );
    std::fs::write(&config, text).unwrap();
    (config, data, port_a, port_b)
}

/// Posts `n` orders to the workshop on `port` and waits until all are completed.
fn book_batch(port: u16, prefix: &str, n: usize) -> Duration {
    let started = std::time::Instant::now();
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for id in &ids {
        assert_eq!(post_order(port, id, "100").0, 200);
    }
    for id in &ids {
        wait_completed(port, id);
    }
    started.elapsed()
}

#[test]
fn a_troubled_neighbour_does_not_slow_a_workshop_down() {
    let (noisy_erp, quiet_erp) = (Sandbox::start("au2office"), Sandbox::start("au2office"));
    for sb in [&noisy_erp, &quiet_erp] {
        sb.case("100", "open");
        sb.item("10");
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data, port_noisy, port_quiet) =
        two_workshop_config(dir.path(), &noisy_erp, &quiet_erp);
    let host = HostUnderTest::start(&config);
    book_batch(port_quiet, "warm", 1);
    book_batch(port_noisy, "warm", 1);
    let quiet_alone = book_batch(port_quiet, "alone", 4);

    // The neighbour's ERP hangs, its browser keeps being killed, and it gets a flood.
    noisy_erp.faults(json!({"hang_pages_ms": 60000}));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 1500 {
                assert_eq!(
                    post_order(port_noisy, &format!("flood-{sent}"), "100").0,
                    200
                );
                sent += 1;
            }
            sent
        })
    };
    let pidfile = data.join("noisy").join("chromedriver.pid");
    let crasher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                kill_recorded_chromedriver(&pidfile);
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let quiet_troubled = book_batch(port_quiet, "troubled", 4);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flooded = flood.join().unwrap();
    crasher.join().unwrap();

    eprintln!("quiet workshop, 4 orders: {quiet_alone:?} alone, {quiet_troubled:?} beside a hung, crashing, flooded neighbour ({flooded} orders)");
    assert!(flooded > 0);
    assert!(
        quiet_troubled <= quiet_alone * 3,
        "the quiet workshop took {quiet_troubled:?} with a troubled neighbour, {quiet_alone:?} alone"
    );
    let noisy = host.integration("noisy");
    assert!(
        noisy["queue"]["task"].as_u64().unwrap() > 0,
        "the flood is queued, not lost: {noisy}"
    );
    assert_eq!(quiet_erp.lines("100").len(), 9);
}
