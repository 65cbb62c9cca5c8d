//! Recovery: start-up time of a workshop whose log holds 1,000,000 events
//! (`Journal::open`: folder lock, fjall open, views rebuilt, ready to
//! answer), against the 1.5 s target, in the three situations a start meets:
//! - after a crash: the last views snapshot is as far behind as the journal
//!   lets it fall (`SNAPSHOT_EVERY` events, or as many as the views hold
//!   orders: a quarter of this log); the tail is folded on top (the worst
//!   case);
//! - after a clean stop: the snapshot is at the log's end;
//! - no snapshot at all (first start of a log written by an older build):
//!   the whole log is folded.
//!
//! The log is written through `Store::append` in batches of 10,000 (three
//! events per order: received, processing, completed; the last orders still
//! waiting). Next to the figures: what fjall alone takes to iterate the log,
//! and to iterate and decode it (the floor of a full fold), and what
//! rebuilding the order index from the whole log takes when it is missing.
//!
//! `cargo bench --bench recovery [-- --events N]`

use oilmat_testkit as kit;
use std::path::Path;
use std::time::{Duration, Instant};

use oilmat_erp::event_log::journal::SNAPSHOT_EVERY;
use oilmat_erp::event_log::store::{decode_event, Store};
use oilmat_erp::event_log::{Event, EventKind, Journal, NewEvent, OrderData};

const TARGET: Duration = Duration::from_millis(1500);
/// Orders at the log's end that are still waiting (received only).
const WAITING: u64 = 2_000;

fn main() {
    let total = kit::num("--events", 1_000_000);
    println!("recovery benchmark on {}", kit::machine());
    let data = kit::data_dir("recovery");
    let ws = data.path().join("bench");
    // The longest tail the snapshot rule allows: a snapshot follows once
    // max(SNAPSHOT_EVERY, orders in the views) events came after the last,
    // and this log has one order per three events, so at most a quarter.
    let tail = SNAPSHOT_EVERY.max(total / 4).min(total / 2);
    let started = Instant::now();
    let store = Store::open(&ws.join("log")).expect("store");
    let mut writer = LogWriter::default();
    writer.write(&store, total - tail, total);
    drop(store);
    // A clean stop leaves a snapshot at this point ...
    let rt = runtime();
    let first = open(&rt, &ws);
    close(&rt, first.0);
    // ... then a crash after `tail` more events.
    let store = Store::open(&ws.join("log")).expect("store");
    writer.write(&store, tail, total);
    let (bytes, raw, decoded) = floors(&store);
    drop(store);
    let opening = Instant::now();
    drop(Store::open(&ws.join("log")).expect("store"));
    let fjall_open = opening.elapsed();
    println!(
        "log: {total} events ({} orders), {:.0} MB on disk, written in {:.1} s",
        writer.orders,
        kit::mb(bytes),
        started.elapsed().as_secs_f64()
    );
    println!(
        "floors: fjall opens the log in {:.3} s, iterates it in {:.3} s, iterates + decodes it in {:.3} s",
        fjall_open.as_secs_f64(),
        raw.as_secs_f64(),
        decoded.as_secs_f64()
    );
    println!();
    println!(
        "start-up with {total} events              | seconds | vs target {:.1} s",
        TARGET.as_secs_f64()
    );
    let before = kit::rss_bytes(std::process::id());
    let (journal, crash) = open(&rt, &ws);
    let views = check(&journal, total, writer.orders);
    let views_rss = kit::rss_bytes(std::process::id()).saturating_sub(before);
    let closing = Instant::now();
    close(&rt, journal);
    let snapshot_write = closing.elapsed();
    report(&format!("after a crash (snapshot + {tail} events)"), crash);
    let (journal, clean) = open(&rt, &ws);
    assert_eq!(check(&journal, total, writer.orders), views, "same views");
    close(&rt, journal);
    report("after a clean stop (snapshot at the end)", clean);
    std::fs::remove_file(oilmat_erp::event_log::snapshot::path(&ws)).expect("remove snapshot");
    let (journal, cold) = open(&rt, &ws);
    assert_eq!(check(&journal, total, writer.orders), views, "same views");
    close(&rt, journal);
    report("no snapshot (whole log folded)", cold);
    let rebuild = rebuild_order_index(&ws);
    println!(
        "an open journal's memory: {:.1} MB for {} orders ({} waiting), {:.0} bytes per order; closing it (writes the snapshot) took {:.3} s",
        kit::mb(views_rss),
        writer.orders,
        WAITING,
        views_rss as f64 / writer.orders as f64,
        snapshot_write.as_secs_f64()
    );
    println!(
        "order index (written with the log) missing, rebuilt from the whole log at open (first start after an upgrade): {:.3} s",
        rebuild.as_secs_f64()
    );
    println!(
        "vs the decode floor: crash {:.2}x, clean {:.2}x, no snapshot {:.2}x",
        crash.as_secs_f64() / decoded.as_secs_f64(),
        clean.as_secs_f64() / decoded.as_secs_f64(),
        cold.as_secs_f64() / decoded.as_secs_f64()
    );
    println!(
        "target (< {:.1} s after a crash, the worst case with a snapshot): {}",
        TARGET.as_secs_f64(),
        if crash < TARGET { "met" } else { "NOT met" }
    );
}

/// Deletes the order index and opens the log, which rebuilds it; how long.
fn rebuild_order_index(ws: &Path) -> Duration {
    let db = fjall::Database::builder(ws.join("log")).open().expect("db");
    let index = db
        .keyspace(
            oilmat_erp::event_log::order_index::KEYSPACE,
            Default::default,
        )
        .expect("index");
    db.delete_keyspace(index).expect("delete index");
    drop(db);
    let started = Instant::now();
    drop(Store::open(&ws.join("log")).expect("store"));
    started.elapsed()
}

fn report(what: &str, took: Duration) {
    println!(
        "{what:<42}| {:>7.3} | {}",
        took.as_secs_f64(),
        kit::versus(took.as_secs_f64(), TARGET.as_secs_f64())
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Opens the workshop's journal; how long until it can answer.
fn open(_rt: &tokio::runtime::Runtime, ws: &Path) -> (Journal, Duration) {
    let started = Instant::now();
    let journal = Journal::open(ws).expect("open");
    let took = started.elapsed();
    (journal, took)
}

fn close(rt: &tokio::runtime::Runtime, journal: Journal) {
    rt.block_on(journal.close());
}

/// The rebuilt views say what the log holds; a digest to compare opens.
fn check(journal: &Journal, total: u64, orders: u64) -> (u64, usize, usize, u64) {
    let views = journal.views();
    assert_eq!(views.last_seq, total);
    assert_eq!(views.order_count() as u64, orders);
    let waiting = views.queue_len(oilmat_erp::event_log::QueueKind::Task) as u64;
    // The order the waiting ones start after may have been cut short too.
    assert!(
        (WAITING..=WAITING + 1).contains(&waiting),
        "{waiting} waiting"
    );
    (
        views.last_seq,
        views.order_count(),
        views.queue_len(oilmat_erp::event_log::QueueKind::Task),
        views.counters.completed,
    )
}

/// What fjall takes for the log alone: bytes on disk, iterating, iterating + decoding.
fn floors(store: &Store) -> (u64, Duration, Duration) {
    let started = Instant::now();
    let n = store.raw_events_from(0).count();
    let raw = started.elapsed();
    let started = Instant::now();
    let mut decoded = 0usize;
    for value in store.raw_events_from(0) {
        let value = value.expect("read");
        decode_event(&value).expect("decode");
        decoded += 1;
    }
    assert_eq!(n, decoded);
    (store.disk_space(), raw, started.elapsed())
}

/// Writes realistic events: per order received, processing, completed.
#[derive(Default)]
struct LogWriter {
    seq: u64,
    orders: u64,
    /// Events of the current order still to write (0: start a new order).
    step: u8,
}

impl LogWriter {
    fn write(&mut self, store: &Store, count: u64, total: u64) {
        let mut left = count;
        while left > 0 {
            let n = left.min(10_000);
            let mut batch = Vec::with_capacity(n as usize);
            let mut secrets = Vec::new();
            for _ in 0..n {
                let event = self.next(total);
                if let EventKind::Received {
                    credentials_ref: Some(key),
                    ..
                } = &event.kind
                {
                    secrets.push((key.clone(), vec![7u8; 110]));
                }
                batch.push(event);
            }
            store.append(&batch, &secrets).expect("append");
            left -= n;
        }
    }

    fn next(&mut self, total: u64) -> Event {
        let waiting_from = total - WAITING;
        if self.step == 0 || self.seq >= waiting_from {
            self.orders += 1;
            self.step = 1;
        } else {
            self.step += 1;
        }
        let id = format!("order-{:08}", self.orders);
        let trace = "0af7651916cd43dd8448eb211c80319c";
        let kind = match self.step {
            1 => EventKind::Received {
                order: OrderData {
                    workshop: "bench".into(),
                    case_id: format!("{}", 4000 + self.orders % 500),
                    product_nr: "10".into(),
                    product_amount: "4.5".into(),
                    username: Some(kit::USER.into()),
                },
                credentials_ref: Some(format!("order/{id}")),
                span_id: None,
            },
            2 => EventKind::Processing {
                attempt: 1,
                may_add: true,
            },
            _ => {
                self.step = 0;
                EventKind::Completed {
                    attempt: 1,
                    already_present: false,
                    duration_ms: 900,
                }
            }
        };
        self.seq += 1;
        NewEvent::order(&id, Some(trace), kind).stamp(self.seq, 1_780_000_000_000 + self.seq)
    }
}
