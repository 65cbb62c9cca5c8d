//! Throughput under load: N orders (10,000) posted in a burst (64
//! connections) to one workshop of the release binary while its browser
//! worker runs against the sandbox au2office. Every order must be
//! acknowledged; the worker books them oldest first; once M (1,000) are
//! completed the worker is stopped, every completed order is checked on the
//! sandbox (`GET /_sandbox/cases/{id}/lines`: exactly one line with its
//! reference, none for the orders not completed) and the rest is cleared.
//! Resident memory is sampled throughout; the oldest waiting order's age is
//! read from `/metrics` (the back-pressure figure).
//!
//! `cargo bench --bench burst [-- --orders N --complete M]`
//! (M orders take about M x 0.4 s of browser time.)

use oilmat_testkit as kit;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oilmat_testkit::{mb, Proc, Sandbox};
use serde_json::Value;

/// Orders spread over this many cases (a few lines per case, as in a workshop).
const CASES: u64 = 500;
const ITEM: &str = "10";

fn main() {
    let n = kit::num("--orders", 10_000);
    let m = kit::num("--complete", 1_000).min(n);
    println!("burst benchmark on {}", kit::machine());
    let sandbox = Sandbox::start("au2office");
    sandbox.item(ITEM);
    for c in 0..CASES.min(n) {
        sandbox.case(&case_of(c), "open");
    }
    let data = kit::data_dir("burst");
    let dir = data.path().display().to_string();
    let ws = Proc::oilmat(
        &[
            "workshop",
            "0",
            "burst",
            "au2office",
            "--erp-url",
            sandbox.url(),
            "--data-dir",
            &dir,
            "--host",
            "127.0.0.1",
        ],
        &[("RUST_LOG", "info,thirtyfour=warn")],
        "burst-workshop",
    );
    let pid = ws.pid();
    let idle_rss = kit::rss_bytes(pid);

    // The burst, while the worker already books the first orders.
    let body: kit::BodyFn = Arc::new(|_, i| {
        kit::order_json(&format!("burst-{i:05}"), &case_of(i % CASES), ITEM, "4.5")
    });
    let (codes, took) = kit::post_many(ws.addr(), "/create", 64, n, body);
    let acked = codes.iter().filter(|&&c| c == 200).count() as u64;
    let burst_rss = kit::rss_bytes(pid);
    println!(
        "burst: {n} orders posted in {:.2} s ({:.0}/s), {acked} acknowledged (200){}",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        if acked == n { "" } else { "  <- NOT all" }
    );

    // Let the worker complete M, watching memory and the queue's age.
    let http = kit::client();
    let metrics = |name: &str| metric(&http, &ws.url, name);
    let started = Instant::now();
    let mut peak_rss = burst_rss;
    let mut peak_age: f64 = 0.0;
    let mut last_report = Instant::now();
    loop {
        let completed = metrics("oilmat_orders_completed_total") as u64;
        peak_rss = peak_rss.max(kit::rss_bytes(pid));
        peak_age = peak_age.max(metrics("oilmat_oldest_waiting_order_age_seconds"));
        if completed >= m {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(60) {
            println!(
                "  ... {completed} completed after {:.0} s, RSS {:.1} MB",
                started.elapsed().as_secs_f64(),
                mb(kit::rss_bytes(pid))
            );
            last_report = Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60 + m * 5),
            "too slow: {completed} of {m} completed"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let booking = started.elapsed();
    let r = http
        .put(format!("{}/stop_worker", ws.url))
        .send()
        .expect("stop_worker");
    assert!(r.status().is_success(), "stop_worker: {}", r.status());

    // Exactly once on the sandbox for every completed order; none for the others.
    let statuses = statuses(&http, &ws.url, n);
    let completed: Vec<u64> = (0..n)
        .filter(|i| statuses[*i as usize] == "completed")
        .collect();
    let lines = sandbox_lines(&sandbox, n);
    let mut wrong = Vec::new();
    for i in 0..n {
        let want = usize::from(statuses[i as usize] == "completed");
        let got = lines
            .get(&format!("OilMat burst-{i:05}"))
            .copied()
            .unwrap_or(0);
        if got != want {
            wrong.push(format!(
                "burst-{i:05}: {got} lines, status {}",
                statuses[i as usize]
            ));
        }
    }
    let r = http
        .put(format!("{}/clear_queue?type=task", ws.url))
        .send()
        .expect("clear_queue");
    let cleared = r
        .json::<Value>()
        .map(|v| v["cleared"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    let cleared_rss = kit::rss_bytes(pid);

    println!(
        "worker: {} completed in {:.0} s ({:.2} s per order, oldest waiting order up to {:.0} s old)",
        completed.len(),
        booking.as_secs_f64(),
        booking.as_secs_f64() / completed.len().max(1) as f64,
        peak_age
    );
    println!(
        "exactly once: {} of {n} orders have the lines their status says ({} completed, {} lines on the sandbox){}",
        n - wrong.len() as u64,
        completed.len(),
        lines.values().sum::<usize>(),
        if wrong.is_empty() { String::new() } else { format!("  <- WRONG: {:?}", &wrong[..wrong.len().min(5)]) }
    );
    println!("cleared afterwards: {cleared} orders");
    println!(
        "memory (RSS): idle {:.1} MB, after the burst {:.1} MB ({:.2} KB per waiting order), peak while booking {:.1} MB, after clearing {:.1} MB",
        mb(idle_rss),
        mb(burst_rss),
        (burst_rss.saturating_sub(idle_rss)) as f64 / 1024.0 / n as f64,
        mb(peak_rss),
        mb(cleared_rss)
    );
    let ok = acked == n && completed.len() as u64 >= m && wrong.is_empty();
    println!(
        "target (all {n} acknowledged, the first {m} completed exactly once): {}",
        if ok { "met" } else { "NOT met" }
    );
    drop(ws);
}

fn case_of(i: u64) -> String {
    format!("k{i:03}")
}

/// A metric's value (summed over its series) from the workshop's `/metrics`.
fn metric(http: &reqwest::blocking::Client, url: &str, name: &str) -> f64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// Every order's status.
fn statuses(http: &reqwest::blocking::Client, url: &str, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            http.get(format!("{url}/check_order_status?unique_id=burst-{i:05}"))
                .send()
                .and_then(|r| r.json::<Value>())
                .map(|v| v["status"].as_str().unwrap_or("?").to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// How many lines carry each reference, over every case used.
fn sandbox_lines(sandbox: &Sandbox, n: u64) -> HashMap<String, usize> {
    let mut count = HashMap::new();
    for c in 0..CASES.min(n) {
        for reference in sandbox.references(&case_of(c)) {
            *count.entry(reference).or_insert(0) += 1;
        }
    }
    count
}
