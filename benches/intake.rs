//! Intake: durable `/create` acknowledgements per second and p50/p99 latency
//! at concurrency 1, 16 and 64, each next to its ceilings measured in the
//! same run:
//! - the real server: the release binary `oilmat-erp workshop` (worker
//!   stopped, so only intake runs), logging to a file as in production;
//! - the HTTP ceiling: the same actix-web settings, middleware, body parser,
//!   JSON answer and log line, answering without touching the disk (this
//!   bench re-run as a child process with `--ceiling-server`);
//! - the disk ceiling: a plain fjall write + fsync loop, one fsync per write
//!   and batches of the concurrency.
//!
//! The load generator is one thread of this process (hyper, keep-alive,
//! N connections). Options: `--secs S` (measuring window per run, 5),
//! `--warmup S` (1), `--conc 1,16,64`.
//!
//! `cargo bench --bench intake`

use oilmat_testkit as kit;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oilmat_testkit::{num, order_json, post_load, versus, Load, Proc};

/// Durable acknowledgements per second wanted at concurrency 64.
const TARGET_ACKS: f64 = 20_000.0;
/// Share of the HTTP ceiling wanted at concurrency 64.
const TARGET_SHARE: f64 = 0.5;

fn main() {
    if kit::flag("--ceiling-server") {
        return ceiling::serve();
    }
    let secs = Duration::from_secs(num("--secs", 3));
    let warmup = Duration::from_millis(num("--warmup-ms", 500));
    let rounds = num("--rounds", 3);
    let concurrency: Vec<usize> = kit::arg("--conc")
        .unwrap_or_else(|| "1,16,64".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    println!("intake benchmark on {}", kit::machine());
    println!("HTTP workers per workshop: {}", oilmat_erp::http::WORKERS);

    let disk = disk_ceiling(&concurrency);
    let data = kit::data_dir("intake");
    let mut real = start_workshop(data.path());
    let mut ceiling = Proc::start(
        &std::env::current_exe().expect("bench binary"),
        &["--ceiling-server"],
        &[],
        "intake-ceiling",
    );
    println!();
    println!(
        "rounds of {} s alternating between the two servers: {rounds}; CPU = the server process's user + system time per answer",
        secs.as_secs()
    );
    println!("conc | durable acks/s p50 ms p99 ms CPU us | no-disk ceiling/s p50 ms p99 ms CPU us | share of ceiling | vs fsync-per-write | events/commit");
    let mut at_64 = None;
    for (round, &c) in concurrency.iter().enumerate() {
        let before = commits(&real);
        let (mut ours, mut top) = (Measured::default(), Measured::default());
        for r in 0..rounds {
            let tag = format!("ceil{round}-{r}");
            top.add(&ceiling, || run(&ceiling, c, warmup, secs, &tag));
            let tag = format!("real{round}-{r}");
            ours.add(&real, || run(&real, c, warmup, secs, &tag));
        }
        let after = commits(&real);
        let per_commit = (after.1 - before.1) as f64 / (after.0 - before.0).max(1) as f64;
        println!(
            "{c:>4} | {:>14.0} {:>6.2} {:>6.2} {:>6.1} | {:>17.0} {:>6.2} {:>6.2} {:>6.1} | {:>16} | {:>18} | {:>6.1}{}",
            ours.load.rate(),
            ours.load.pct_ms(0.5),
            ours.load.pct_ms(0.99),
            ours.cpu_us(),
            top.load.rate(),
            top.load.pct_ms(0.5),
            top.load.pct_ms(0.99),
            top.cpu_us(),
            versus(ours.load.rate(), top.load.rate()),
            versus(ours.load.rate(), disk.one_per_fsync),
            per_commit,
            failures(&ours.load, &top.load),
        );
        if c == 64 {
            at_64 = Some((ours.load, top.load));
        }
    }
    println!();
    println!(
        "disk ceiling (plain fjall, same settings): {:.0} writes/s with one fsync each; {}",
        disk.one_per_fsync,
        disk.batched
            .iter()
            .map(|(n, rate)| format!("{rate:.0} events/s in batches of {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some((ours, top)) = at_64 {
        println!(
            "target at concurrency 64: {:.0} durable acks/s vs {TARGET_ACKS:.0}/s wanted: {} ({}); share of the no-disk ceiling {} vs {TARGET_SHARE} wanted ({})",
            ours.rate(),
            versus(ours.rate(), TARGET_ACKS),
            verdict(ours.rate() >= TARGET_ACKS),
            versus(ours.rate(), top.rate()),
            verdict(ours.rate() >= TARGET_SHARE * top.rate()),
        );
    }
    real.stop(Duration::from_secs(10));
    ceiling.stop(Duration::from_secs(10));
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn failures(ours: &Load, top: &Load) -> String {
    if ours.failed + top.failed == 0 {
        String::new()
    } else {
        format!("  (non-200: ours {}, ceiling {})", ours.failed, top.failed)
    }
}

/// Load runs against one server and the CPU time it took.
#[derive(Default)]
struct Measured {
    load: Load,
    cpu: Duration,
}

impl Measured {
    /// Runs `load` and adds it with the server's CPU time meanwhile.
    fn add(&mut self, server: &Proc, load: impl FnOnce() -> Load) {
        let before = kit::cpu_time(server.pid());
        let run = load();
        self.cpu += kit::cpu_time(server.pid()) - before;
        self.load.merge(run);
    }

    /// Server CPU microseconds per answer (warm-up included).
    fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.load.answers.max(1) as f64
    }
}

/// One load run of fresh orders against `server`.
fn run(server: &Proc, concurrency: usize, warmup: Duration, secs: Duration, tag: &str) -> Load {
    let tag = tag.to_string();
    let body: kit::BodyFn =
        Arc::new(move |conn, i| order_json(&format!("{tag}-{conn}-{i}"), "4711", "10", "4.5"));
    post_load(server.addr(), "/create", concurrency, warmup, secs, body)
}

/// The real binary as one workshop, its worker stopped (only intake runs).
fn start_workshop(data: &std::path::Path) -> Proc {
    let dir = data.display().to_string();
    let proc = Proc::oilmat(
        &[
            "workshop",
            "0",
            "bench",
            "au2office",
            "--erp-url",
            "http://127.0.0.1:9",
            "--data-dir",
            &dir,
            "--host",
            "127.0.0.1",
        ],
        &[],
        "intake-workshop",
    );
    let http = kit::client();
    let r = http
        .put(format!("{}/stop_worker", proc.url))
        .send()
        .expect("stop_worker");
    assert!(r.status().is_success(), "stop_worker: {}", r.status());
    proc
}

/// The journal's (commits, events) so far, from the workshop's `/metrics`.
fn commits(server: &Proc) -> (u64, u64) {
    let text = kit::client()
        .get(format!("{}/metrics", server.url))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    let read = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    (
        read("oilmat_event_log_commits_total"),
        read("oilmat_event_log_events_total"),
    )
}

/// What the disk can do with fjall alone.
struct DiskCeiling {
    one_per_fsync: f64,
    batched: Vec<(usize, f64)>,
}

/// A plain fjall write + fsync loop with the store's settings: one fsync per
/// write, and batches of each concurrency (what perfect group commit gets).
fn disk_ceiling(concurrency: &[usize]) -> DiskCeiling {
    use fjall::{Database, KeyspaceCreateOptions, PersistMode};
    let dir = kit::data_dir("fjall");
    let db = Database::builder(dir.path())
        .worker_threads(1)
        .cache_size(2 * 1024 * 1024)
        .open()
        .expect("fjall open");
    let events = db
        .keyspace("events", KeyspaceCreateOptions::default)
        .expect("keyspace");
    let value = sample_event();
    let mut seq = 0u64;
    let mut rate = |batch: usize| {
        let window = Duration::from_secs(2);
        let started = Instant::now();
        let cpu0 = kit::cpu_time(std::process::id());
        let mut written = 0u64;
        while started.elapsed() < window {
            let mut b = db.batch().durability(Some(PersistMode::SyncData));
            for _ in 0..batch {
                seq += 1;
                b.insert(&events, seq.to_be_bytes(), value.as_slice());
            }
            b.commit().expect("commit");
            written += batch as u64;
        }
        let cpu = kit::cpu_time(std::process::id()) - cpu0;
        println!(
            "  fjall batches of {batch}: {:.0} us CPU per commit",
            cpu.as_secs_f64() * 1e6 * batch as f64 / written as f64
        );
        written as f64 / started.elapsed().as_secs_f64()
    };
    let one_per_fsync = rate(1);
    let batched = concurrency
        .iter()
        .filter(|&&c| c > 1)
        .map(|&c| (c, rate(c)))
        .collect();
    DiskCeiling {
        one_per_fsync,
        batched,
    }
}

/// A `received` event as the journal writes it.
fn sample_event() -> Vec<u8> {
    use oilmat_erp::event_log::{EventKind, NewEvent, OrderData};
    let kind = EventKind::Received {
        order: OrderData {
            workshop: "w".into(),
            case_id: "4711".into(),
            product_nr: "10".into(),
            product_amount: "4.5".into(),
            username: Some(kit::USER.into()),
        },
        credentials_ref: Some("order/real0-12-3456".into()),
        span_id: None,
    };
    let event = NewEvent::order(
        "real0-12-3456",
        Some("0af7651916cd43dd8448eb211c80319c"),
        kind,
    )
    .stamp(1, 1_780_000_000_000);
    serde_json::to_vec(&event).expect("encode")
}

/// The HTTP ceiling: the workshop API's `/create` without the disk.
mod ceiling {
    use std::net::TcpListener;

    use actix_web::middleware::from_fn;
    use actix_web::{web, App, HttpResponse, HttpServer};
    use oilmat_erp::http::create_body::{parse_create, MAX_BODY};
    use oilmat_erp::http::routes::http_span;
    use serde_json::json;

    /// Serves `/create` like the workshop API, answering `received` at once.
    pub fn serve() {
        oilmat_erp::telemetry::logging::init();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        actix_rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new()
                    .app_data(web::PayloadConfig::new(MAX_BODY))
                    .wrap(from_fn(http_span))
                    .route("/create", web::post().to(create))
            })
            .workers(oilmat_erp::http::WORKERS)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
            let handle = server.handle();
            actix_rt::spawn(server);
            oilmat_erp::startup::announce(&format!("ceiling listening on http://{addr}"));
            oilmat_erp::startup::shutdown_signal().await;
            handle.stop(false).await;
        });
    }

    #[tracing::instrument(name = "create order", skip_all, fields(workshop = "bench", unique_id))]
    async fn create(body: web::Bytes) -> HttpResponse {
        match parse_create(&body, 128) {
            Ok(request) => {
                tracing::Span::current().record("unique_id", request.unique_id.as_str());
                tracing::info!(status = "received", new = true, "order acknowledged");
                HttpResponse::Ok()
                    .json(json!({"status": "received", "unique_id": request.unique_id}))
            }
            Err(bad) => HttpResponse::BadRequest()
                .json(json!({"status": "bad request", "reason": bad.reason})),
        }
    }
}
