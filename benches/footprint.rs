//! Footprint: resident memory (VmRSS) of `oilmat-erp serve` with 1, 10 and
//! 100 idle workshops (empty logs, workers running, browsers closed: none
//! has had an order), against 5 MB per idle workshop. The per-workshop
//! figure is the growth over the host with no workshop at all, divided by
//! the number of workshops; threads are counted too.
//!
//! `cargo bench --bench footprint [-- --counts 0,1,10,100]`

use oilmat_testkit as kit;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use oilmat_testkit::{mb, Proc};

const TARGET_MB: f64 = 5.0;

fn main() {
    let counts: Vec<usize> = kit::arg("--counts")
        .unwrap_or_else(|| "0,1,10,100".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    println!("footprint benchmark on {}", kit::machine());
    println!();
    println!("workshops | RSS MB | threads | MB per workshop over none | vs target {TARGET_MB} MB");
    let mut base: Option<(u64, u64)> = None;
    let mut worst: f64 = 0.0;
    for &n in &counts {
        let (rss, threads) = measure(n);
        let base_rss = *base.get_or_insert((rss, threads));
        let per = if n == 0 {
            f64::NAN
        } else {
            mb(rss.saturating_sub(base_rss.0)) / n as f64
        };
        if n > 0 {
            worst = worst.max(per);
        }
        let per_text = if n == 0 {
            "-".to_string()
        } else {
            format!(
                "{per:.2} MB, {:.1} threads",
                (threads - base_rss.1) as f64 / n as f64
            )
        };
        let ratio = if n == 0 {
            "-".to_string()
        } else {
            kit::versus(per, TARGET_MB)
        };
        println!(
            "{n:>9} | {:>6.1} | {threads:>7} | {per_text:>25} | {ratio}",
            mb(rss)
        );
    }
    println!();
    println!(
        "target (< {TARGET_MB} MB per idle workshop): {} (worst {worst:.2} MB)",
        if worst < TARGET_MB { "met" } else { "NOT met" }
    );
}

/// Starts a host with `n` idle workshops; its settled RSS and thread count.
fn measure(n: usize) -> (u64, u64) {
    let data = kit::data_dir("footprint");
    let config = data.path().join("oilmat.toml");
    std::fs::write(&config, config_text(n, &data.path().join("logs"))).expect("config");
    let config = config.display().to_string();
    let mut host = Proc::oilmat(&["serve", "--config", &config], &[], "footprint-host");
    let http = kit::client();
    kit::wait_until("every workshop running", Duration::from_secs(120), || {
        let Ok(r) = http.get(format!("{}/integrations", host.url)).send() else {
            return false;
        };
        let list: Vec<serde_json::Value> = r.json().unwrap_or_default();
        list.len() == n
            && list
                .iter()
                .all(|i| i["api"] == "running" && i["worker"] == "running")
    });
    let (rss, threads) = settled(host.pid());
    host.stop(Duration::from_secs(30));
    (rss, threads)
}

/// RSS once two samples a second apart agree within 1% (at most 20 s).
fn settled(pid: u32) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = kit::rss_bytes(pid);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = kit::rss_bytes(pid);
        let calm = (now as f64 - last as f64).abs() <= 0.01 * last as f64;
        if calm || Instant::now() > deadline {
            return (now, kit::threads(pid));
        }
        last = now;
    }
}

/// A host config with `n` workshops on free ports (against an ERP that is
/// never called: no order arrives).
fn config_text(n: usize, logs: &std::path::Path) -> String {
    let mut text = format!(
        "data_dir = {:?}\nwebdriver = \"spawn\"\n\n[management]\nlisten = \"127.0.0.1:0\"\n",
        logs.display().to_string()
    );
    // Held together until all are chosen, so no port comes up twice.
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind(("0.0.0.0", 0)).expect("bind"))
        .collect();
    for (i, listener) in listeners.iter().enumerate() {
        let port = listener.local_addr().expect("addr").port();
        let _ = write!(
            text,
            "\n[workshops.ws{i:03}]\nerp_type = \"au2office\"\nerp_url = \"http://127.0.0.1:9\"\nport = {port}\nlisten = \"127.0.0.1\"\nusername = \"u\"\npassword = \"p\"\nactive = true\n"
        );
    }
    text
}
