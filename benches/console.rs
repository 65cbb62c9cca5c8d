//! Console: the CPU cost of a workshop page refresh read from the order
//! index, and what refreshes cost intake.
//!
//! A workshop's log holds a history of `--orders` orders (received,
//! processing, completed; one in 50 failed), written through
//! `Store::append` (which writes the order index in the same batches); its
//! journal is then opened as `serve` opens it.
//! - A refresh is what the console's workshop page reads: one page of 50
//!   rows (`Journal::order_page`) and the last 10 operator actions; timed
//!   for the newest page, a status filter and a text search (which scans
//!   the index). CPU = the process's user + system time (getrusage) per
//!   refresh, all threads.
//! - Intake: 64 tasks submit `/create`'s command (`Journal::submit`, durable
//!   with group commit) for `--secs` seconds, alone or with a newest-page
//!   refresh every 100 ms running beside it (ten viewers refreshing once a
//!   second); `--rounds` rounds of each, interleaved. CPU per order; the
//!   difference of the means is printed next to the run-to-run spread of
//!   each.
//!
//! `cargo bench --bench console [-- --orders N --rounds R --secs S]`

use oilmat_testkit as kit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oilmat_erp::event_log::order_index::Filter;
use oilmat_erp::event_log::store::Store;
use oilmat_erp::event_log::{Command, Event, EventKind, Journal, OrderData};
use oilmat_erp::order::{Failure, FailureKind};

const CONCURRENCY: usize = 64;
const PER_PAGE: usize = 50;
const REFRESH_EVERY: Duration = Duration::from_millis(100);

fn main() {
    let orders = kit::num("--orders", 100_000);
    let rounds = kit::num("--rounds", 5);
    let secs = Duration::from_secs(kit::num("--secs", 2));
    println!("console benchmark on {}", kit::machine());
    let data = kit::data_dir("console");
    let ws = data.path().join("bench");
    let started = Instant::now();
    let store = Store::open(&ws.join("log")).expect("store");
    write_history(&store, orders);
    drop(store);
    println!(
        "history: {orders} orders written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let journal = Journal::open(&ws).expect("open");
    println!();
    println!("page refresh (50 rows + 10 actions)   | CPU ms per refresh | wall ms | total rows");
    let failed = Filter {
        status: Some("failed".into()),
        ..Filter::default()
    };
    let text = Filter {
        text: Some("0004217".into()),
        ..Filter::default()
    };
    for (what, filter, n) in [
        ("newest page", Filter::default(), 2000),
        ("status failed, page 10", failed, 200),
        ("text search (scans the index)", text, 5),
    ] {
        let page = if what.contains("page 10") { 10 } else { 0 };
        let (cpu, wall, total) = rt.block_on(refreshes(&journal, &filter, page, n));
        println!(
            "{what:<38}| {:>18.3} | {:>7.3} | {total}",
            cpu * 1e3 / n as f64,
            wall * 1e3 / n as f64
        );
    }
    println!();
    println!(
        "intake, {CONCURRENCY} tasks, {} s per run; refreshes: newest page every {} ms",
        secs.as_secs(),
        REFRESH_EVERY.as_millis()
    );
    println!(
        "round | alone: orders/s CPU us/order | with refreshes: orders/s CPU us/order refreshes"
    );
    let (mut alone, mut with) = (Vec::new(), Vec::new());
    let next = AtomicU64::new(0);
    for round in 0..rounds {
        let a = rt.block_on(intake(&journal, &next, secs, false));
        let w = rt.block_on(intake(&journal, &next, secs, true));
        println!(
            "{round:>5} | {:>15.0} {:>12.1} | {:>24.0} {:>12.1} {:>9}",
            a.rate, a.cpu_us, w.rate, w.cpu_us, w.refreshes
        );
        alone.push(a.cpu_us);
        with.push(w.cpu_us);
    }
    let (ma, sa) = mean_spread(&alone);
    let (mw, sw) = mean_spread(&with);
    println!(
        "CPU per order: alone {ma:.1} us (spread {sa:.1}), with refreshes {mw:.1} us (spread {sw:.1}); difference {:+.1} us ({:+.1}%)",
        mw - ma,
        (mw - ma) / ma * 100.0
    );
    rt.block_on(journal.close());
}

/// `n` refreshes one after the other: CPU seconds, wall seconds, the total shown.
async fn refreshes(journal: &Journal, filter: &Filter, page: usize, n: u32) -> (f64, f64, usize) {
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut total = 0;
    for _ in 0..n {
        total = refresh(journal, filter, page).await;
    }
    (cpu_seconds() - cpu, wall.elapsed().as_secs_f64(), total)
}

/// What one refresh of the workshop page reads; the total it shows.
async fn refresh(journal: &Journal, filter: &Filter, page: usize) -> usize {
    let listed = journal.order_page(filter.clone(), page, PER_PAGE).await;
    let listed = listed.expect("page");
    assert!(listed.rows.len() <= PER_PAGE);
    journal.operator_actions(10).await.expect("actions");
    listed.total
}

struct Run {
    rate: f64,
    cpu_us: f64,
    refreshes: u64,
}

/// Intake for `secs`, with or without refreshes beside it.
async fn intake(journal: &Journal, next: &AtomicU64, secs: Duration, refreshing: bool) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let refreshed = Arc::new(AtomicU64::new(0));
    let refresher = refreshing.then(|| {
        let (journal, stop, refreshed) = (journal.clone(), stop.clone(), refreshed.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                refresh(&journal, &Filter::default(), 0).await;
                refreshed.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    let base = next.fetch_add(1_000_000_000, Ordering::Relaxed);
    let counter = Arc::new(AtomicU64::new(0));
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let deadline = tokio::time::Instant::now() + secs;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (journal, counter) = (journal.clone(), counter.clone());
            tokio::spawn(async move {
                while tokio::time::Instant::now() < deadline {
                    let n = base + counter.fetch_add(1, Ordering::Relaxed);
                    let done = journal.submit(create(n)).await.expect("submit");
                    assert_eq!(done, Ok(1));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("intake task");
    }
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    if let Some(refresher) = refresher {
        refresher.await.expect("refresher");
    }
    let orders = counter.load(Ordering::Relaxed) as f64;
    Run {
        rate: orders / wall,
        cpu_us: cpu * 1e6 / orders,
        refreshes: refreshed.load(Ordering::Relaxed),
    }
}

fn create(n: u64) -> Command {
    Command::Create {
        unique_id: format!("new-{n:010}"),
        order: order(n),
        credentials: None,
        trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
        span_id: None,
    }
}

fn order(n: u64) -> OrderData {
    OrderData {
        workshop: "bench".into(),
        case_id: format!("{}", 4000 + n % 500),
        product_nr: "10-4711".into(),
        product_amount: "4.5".into(),
        username: None,
    }
}

/// The mean and the spread (max - min).
fn mean_spread(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let max = values.iter().cloned().fold(f64::MIN, f64::max);
    let min = values.iter().cloned().fold(f64::MAX, f64::min);
    (mean, max - min)
}

/// User + system CPU time of this process so far (all threads), in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Per order: received, processing, completed (one in 50 failed instead).
fn write_history(store: &Store, orders: u64) {
    let mut seq = 0;
    let now = 1_700_000_000_000;
    let mut batch = Vec::with_capacity(10_002);
    for n in 1..=orders {
        let id = format!("order-{n:08}");
        let mut push = |kind: EventKind| {
            seq += 1;
            batch.push(Event {
                v: oilmat_erp::event_log::events::SCHEMA_VERSION,
                seq,
                ts_ms: now + seq,
                unique_id: Some(id.clone()),
                trace_id: None,
                kind,
            });
        };
        push(EventKind::Received {
            order: order(n),
            credentials_ref: None,
            span_id: None,
        });
        push(EventKind::Processing {
            attempt: 1,
            may_add: true,
        });
        push(if n % 50 == 0 {
            let failure = Failure::new(FailureKind::UnknownItem, "unknown item: 10-4711");
            EventKind::Failed {
                reason: failure.reason.clone(),
                uncharged: false,
                failure: Some(failure.kind),
                is_final: true,
                attempt: 1,
                screenshot: None,
                page_source: None,
                duration_ms: 900,
            }
        } else {
            EventKind::Completed {
                attempt: 1,
                already_present: false,
                duration_ms: 900,
            }
        });
        if batch.len() >= 10_000 {
            store.append(&batch, &[]).expect("append");
            batch.clear();
        }
    }
    store.append(&batch, &[]).expect("append");
}
