//! Recovery after an ERP outage (issue 11): a backlog of orders waits while
//! the ERP answers 503; from the ERP's return to the last order booked
//! should take at most 1.2x (the backlog times the warm per-order cost, plus
//! the check interval in force at the return).
//!
//! `cargo bench --bench outage [-- --orders 200 --warm 20]`

use std::time::{Duration, Instant};

use serde_json::json;

use oilmat_testkit as kit;
use oilmat_testkit::{order, wait_until, Sandbox, Workshop};

const LIMIT: f64 = 1.2;
/// The longest wait between checks while down (`--check-max-ms`).
const CHECK_MAX: Duration = Duration::from_secs(4);

fn main() {
    let backlog = kit::num("--orders", 200) as usize;
    let warm = kit::num("--warm", 20) as usize;
    println!("outage recovery benchmark on {}", kit::machine());
    let sandbox = Sandbox::start("au2office");
    sandbox.case("400", "open");
    sandbox.item("10");
    let data = kit::data_dir("outage");
    let check_max = CHECK_MAX.as_millis().to_string();
    let flags = [
        "--step-timeout-secs",
        "5",
        "--breaker-threshold",
        "3",
        "--check-initial-ms",
        "1000",
        "--check-max-ms",
        check_max.as_str(),
        "--initial-backoff-ms",
        "200",
        "--max-backoff-ms",
        "1000",
    ];
    let ws = Workshop::start("outage-bench", "au2office", &sandbox, data.path(), &flags);

    book(&ws, "first", 1);
    let (ids, warm_time) = book(&ws, "warm", warm);
    let per_order = warm_time.as_secs_f64() / ids.len() as f64;

    sandbox.faults(json!({"down": "503"}));
    let mut waiting = post(&ws, "trip", 1);
    wait_until(
        "the integration to go down",
        Duration::from_secs(300),
        || ws.get("/alive").1["erp"]["state"] == "down",
    );
    waiting.extend(post(&ws, "backlog", backlog));
    // Long enough for the checks to back off to their cap.
    std::thread::sleep(CHECK_MAX * 3);
    sandbox.faults(json!({"down": null}));
    let back = Instant::now();
    let done = ws.wait_final(&waiting, Duration::from_secs(3600));
    let recovery = back.elapsed().as_secs_f64();
    let failed = done
        .iter()
        .filter(|(_, s)| s["status"] != "completed")
        .count();
    let target = waiting.len() as f64 * per_order + CHECK_MAX.as_secs_f64();
    let ratio = recovery / target;
    println!();
    println!("what | seconds | note");
    println!(
        "warm cost per order | {per_order:.3} | {} orders booked one after another",
        ids.len()
    );
    println!(
        "ERP back -> last of {} orders booked | {recovery:.1} | {failed} not completed",
        waiting.len()
    );
    println!(
        "target: {} x warm + check interval {} s | {target:.1} | ratio {ratio:.2}x, limit {LIMIT}x: {}",
        waiting.len(),
        CHECK_MAX.as_secs(),
        if ratio <= LIMIT { "met" } else { "NOT met" }
    );
}

/// Posts `n` orders and waits until all are final; their ids and the time.
fn book(ws: &Workshop, tag: &str, n: usize) -> (Vec<String>, Duration) {
    let started = Instant::now();
    let ids = post(ws, tag, n);
    ws.wait_final(&ids, Duration::from_secs(3600));
    (ids, started.elapsed())
}

fn post(ws: &Workshop, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let id = format!("{tag}-{i}");
            let (code, answer) = ws.create(&order(&id, "400", "10", "1"));
            assert_eq!(code, 200, "{answer}");
            id
        })
        .collect()
}
