//! kill -9 of the binary while saves are unconfirmed (design.md rule 6):
//! right after `save submitted`, and at random in a seeded loop with
//! reposts and slow commits. Every acknowledged order ends with exactly one
//! line and `completed`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use oilmat_testkit::*;

/// How long the sandbox holds the save after the kill test's click: far
/// longer than finding `save submitted` takes, far shorter than the settle
/// time, so the save lands after the kill and before the settle time.
const HELD_SECS: u64 = 8;

fn kill_9_right_after_save_submitted_books_once(erp: &str) {
    let sandbox = Sandbox::start(erp);
    sandbox.case("430", "open");
    sandbox.item("10");
    sandbox.faults(json!({"slow_commit": {"saves": 1, "secs": HELD_SECS}}));
    let data = tempfile::tempdir().unwrap();
    let name = format!("k9-{erp}");
    let mut args = FAST.to_vec();
    args.extend_from_slice(&["--settle-secs", "40"]);
    let mut ws = Workshop::start(&name, erp, &sandbox, data.path(), &args);
    let id = "k9-1".to_string();
    assert_eq!(ws.create(&order(&id, "430", "10", "3")).0, 200);

    let deadline = Instant::now() + Duration::from_secs(90);
    let submitted_at = loop {
        if event_kinds(&ws, &id).iter().any(|k| k == "save submitted") {
            break Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "no save submitted in time:\n{}",
            ws.proc.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // The click follows the durable `save submitted` by moments: kill once
    // the ERP holds the save (else the save never happens and the restart
    // rightly adds the line after the settle time: another test).
    wait_until("the ERP to hold the save", Duration::from_secs(30), || {
        held_saves_left(&sandbox) == 0
    });
    ws.proc.kill_hard();
    assert_eq!(
        sandbox.lines_for("430", &id),
        0,
        "the held save must land after the kill ({:?} after it was submitted)",
        submitted_at.elapsed()
    );
    drop(ws);

    let ws = Workshop::start(&name, erp, &sandbox, data.path(), &args);
    let finals = ws.wait_final(std::slice::from_ref(&id), Duration::from_secs(120));
    assert_eq!(finals[0].1["status"], "completed", "{}", finals[0].1);
    // Count once the held save has surely landed.
    let landed = submitted_at + Duration::from_secs(HELD_SECS + 2);
    wait_until("the held save's time", Duration::from_secs(60), || {
        Instant::now() >= landed
    });
    assert_eq!(sandbox.lines_for("430", &id), 1, "exactly one line");
    let events = ws.events(&id);
    let completed = events
        .iter()
        .find(|e| e["kind"] == "completed")
        .expect("a completed event");
    assert_eq!(
        completed["already_present"], true,
        "the restart found the held save's line: {events:?}"
    );
    let submissions = events
        .iter()
        .filter(|e| e["kind"] == "save submitted")
        .count();
    assert_eq!(submissions, 1, "one save only: {events:?}");
}

#[test]
fn au2office_kill_9_right_after_save_submitted_books_once() {
    kill_9_right_after_save_submitted_books_once("au2office");
}

#[test]
fn admanager_kill_9_right_after_save_submitted_books_once() {
    kill_9_right_after_save_submitted_books_once("admanager");
}

/// A run of the loop: `OILMAT_KILL_LOOP_RUNS` (default 5), each a fresh
/// sandbox and data dir, the ERP types alternating.
#[test]
fn seeded_kill_9_loop_books_every_acknowledged_order_once() {
    let seed = std::env::var("OILMAT_TEST_SEED")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
    eprintln!("kill loop: seed {seed} (replay with OILMAT_TEST_SEED={seed})");
    let runs = std::env::var("OILMAT_KILL_LOOP_RUNS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(5);
    for run in 0..runs {
        let erp = if (seed.wrapping_add(run)) % 2 == 0 {
            "au2office"
        } else {
            "admanager"
        };
        let mut rng = Rng::new(seed ^ run.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let started = Instant::now();
        kill_loop_run(seed, run, erp, &mut rng);
        eprintln!(
            "kill loop: seed {seed} run {run} ({erp}) passed in {:.1?}",
            started.elapsed()
        );
    }
}

/// The longest a slow commit is held in the loop. The settle time (10 s)
/// exceeds it by a margin for a slow browser between `save submitted` and
/// the save's arrival (a save that lands after the settle time may be
/// booked twice: design.md accepts that); the step timeout (3 s) is
/// shorter, so some saves go unconfirmed within an attempt too.
const LOOP_MAX_HOLD_MS: u64 = 4000;
const LOOP_ARGS: &[&str] = &[
    "--max-attempts",
    "8",
    "--initial-backoff-ms",
    "200",
    "--max-backoff-ms",
    "1000",
    "--step-timeout-secs",
    "3",
    "--settle-secs",
    "10",
];
/// Kills per order at most (the crash-loop limit is 3).
const MAX_KILLS_PER_ORDER: u32 = 2;
const CASES: [&str; 2] = ["900", "901"];

fn kill_loop_run(seed: u64, run: u64, erp: &str, rng: &mut Rng) {
    let sandbox = Sandbox::start(erp);
    for case in CASES {
        sandbox.case(case, "open");
    }
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let name = format!("loop-{run}");
    let tag = format!("seed {seed} run {run} ({erp})");

    let n_orders = 3 + rng.below(2) as usize;
    let orders: Vec<(String, &'static str)> = (0..n_orders)
        .map(|i| (format!("s{run}-{i}"), CASES[rng.below(2) as usize]))
        .collect();
    let case_of: BTreeMap<String, &'static str> =
        orders.iter().map(|(id, c)| (id.clone(), *c)).collect();
    // One or two kills in a run; the budget keeps each order at two should
    // that ever change.
    let planned_kills = 1 + rng.below(2);
    let mut kills_of: BTreeMap<String, u32> = BTreeMap::new();
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let mut attempted: BTreeSet<String> = BTreeSet::new();
    let mut kills = 0;
    let mut epoch = 0;
    let mut max_hold_ms = 0;
    loop {
        let last = kills >= planned_kills;
        // Unconfirmed saves: the next save is held, longer or shorter
        // than the step timeout, always shorter than the settle time.
        let held = 1;
        let hold_ms = 1000 + rng.below(LOOP_MAX_HOLD_MS - 1000);
        sandbox.faults(json!({"slow_commit_saves": held, "slow_commit_ms": hold_ms}));
        max_hold_ms = max_hold_ms.max(hold_ms);
        let starting = Instant::now();
        let ws = Workshop::start(&name, erp, &sandbox, data.path(), LOOP_ARGS);
        let plan = posting_plan(rng, epoch, &orders, &acknowledged, last);
        eprintln!(
            "kill loop: {tag} epoch {epoch}: started in {:.1?}; {} posts, {held} saves held {hold_ms} ms",
            starting.elapsed(),
            plan.len()
        );
        let gaps: Vec<u64> = plan.iter().map(|_| rng.below(250)).collect();
        let poster = Poster::start(ws.url().to_string(), plan, gaps, case_of.clone());
        if last {
            let results = poster.join();
            for (id, code) in &results {
                attempted.insert(id.clone());
                if matches!(code, Some(200..=299)) {
                    acknowledged.insert(id.clone());
                }
            }
            let unacknowledged: Vec<&String> = attempted.difference(&acknowledged).collect();
            assert!(
                unacknowledged.is_empty(),
                "{tag}: not acknowledged after the last restart: {unacknowledged:?}"
            );
            let fin = Final {
                tag: &tag,
                acknowledged: &acknowledged,
                case_of: &case_of,
                kills_of: &kills_of,
                max_hold: Duration::from_millis(max_hold_ms),
            };
            fin.check(&ws, &sandbox);
            return;
        }

        // Kill at a random moment: while posting (the first epoch), or
        // while booking: a moment after the next save is submitted (before
        // its click, while the ERP holds it, after it), or at random.
        let moment = if epoch == 0 && rng.below(2) == 0 {
            Moment::Posting(rng.below(1500))
        } else if rng.below(3) > 0 {
            Moment::AfterSubmit(rng.below(1500))
        } else {
            Moment::Booking(500 + rng.below(3500))
        };
        moment.wait(&ws);
        // An order not known completed may be in an attempt when the kill
        // comes: it is charged a kill; none gets more than two.
        let statuses: BTreeMap<String, String> = poster
            .attempted()
            .into_iter()
            .chain(attempted.iter().cloned())
            .map(|id| {
                let status = ws.status(&id).1["status"]
                    .as_str()
                    .unwrap_or("-")
                    .to_string();
                (id, status)
            })
            .collect();
        let completed: BTreeSet<String> = statuses
            .iter()
            .filter(|(_, status)| *status == "completed")
            .map(|(id, _)| id.clone())
            .collect();
        let over_budget = attempted.iter().chain(poster.attempted().iter()).any(|id| {
            !completed.contains(id) && kills_of.get(id).copied().unwrap_or(0) >= MAX_KILLS_PER_ORDER
        });
        let mut ws = ws;
        if over_budget {
            eprintln!(
                "kill loop: {tag} epoch {epoch}: no kill, an order had {MAX_KILLS_PER_ORDER}"
            );
            kills = planned_kills;
        } else {
            ws.proc.kill_hard();
            kills += 1;
            eprintln!("kill loop: {tag} epoch {epoch}: kill -9 {moment:?}: {statuses:?}");
        }
        let results = poster.finish();
        for (id, code) in &results {
            attempted.insert(id.clone());
            if matches!(code, Some(200..=299)) {
                acknowledged.insert(id.clone());
            }
        }
        if !over_budget {
            for id in attempted.iter().filter(|id| !completed.contains(*id)) {
                *kills_of.entry(id.clone()).or_insert(0) += 1;
            }
        }
        drop(ws);
        epoch += 1;
    }
}

/// When a kill comes.
#[derive(Debug)]
enum Moment {
    /// This many ms after the posting began.
    Posting(u64),
    /// This many ms after the next `save submitted` is in the log (or
    /// after 30 s without one).
    AfterSubmit(u64),
    /// This many ms after the posting began.
    Booking(u64),
}

impl Moment {
    fn wait(&self, ws: &Workshop) {
        let delay = match self {
            Moment::Posting(ms) | Moment::Booking(ms) => *ms,
            Moment::AfterSubmit(ms) => {
                let before = submissions(ws);
                let deadline = Instant::now() + Duration::from_secs(30);
                while submissions(ws) <= before && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                *ms
            }
        };
        // (A random moment, not a condition: nothing to poll for.)
        std::thread::sleep(Duration::from_millis(delay));
    }
}

/// How many `save submitted` events the workshop's log holds.
fn submissions(ws: &Workshop) -> usize {
    ws.cli(&["events", &ws.name, "--json"])
        .lines()
        .filter(|l| l.contains("\"save submitted\""))
        .count()
}

/// What the poster sends in one epoch: the orders never acknowledged yet
/// (OilMat delivers again until it gets an answer), new ones in the first
/// epoch, and reposts of earlier ones, shuffled.
fn posting_plan(
    rng: &mut Rng,
    epoch: u32,
    orders: &[(String, &'static str)],
    acknowledged: &BTreeSet<String>,
    last: bool,
) -> Vec<String> {
    let mut plan: Vec<String> = Vec::new();
    for (id, _) in orders {
        if !acknowledged.contains(id) && (epoch == 0 || last || rng.below(2) == 0) {
            plan.push(id.clone());
        }
    }
    for (id, _) in orders {
        if rng.below(3) == 0 {
            plan.push(id.clone());
        }
    }
    rng.shuffle(&mut plan);
    plan
}

/// After the last restart: every acknowledged order `completed`, with
/// exactly one line, counted after every held save has landed.
struct Final<'a> {
    tag: &'a str,
    acknowledged: &'a BTreeSet<String>,
    case_of: &'a BTreeMap<String, &'static str>,
    kills_of: &'a BTreeMap<String, u32>,
    /// The longest a save was held in the run.
    max_hold: Duration,
}

impl Final<'_> {
    fn check(&self, ws: &Workshop, sandbox: &Sandbox) {
        let tag = self.tag;
        let ids: Vec<String> = self.acknowledged.iter().cloned().collect();
        let waiting = Instant::now();
        let finals = ws.wait_final(&ids, Duration::from_secs(240));
        eprintln!("kill loop: {tag}: all final in {:.1?}", waiting.elapsed());
        // No save is clicked any more: the last held one lands within its hold.
        let landed = Instant::now() + self.max_hold + Duration::from_millis(500);
        wait_until("every held save's time", Duration::from_secs(60), || {
            Instant::now() >= landed
        });
        for (id, status) in finals {
            let case = self.case_of[&id];
            let lines = sandbox.lines_for(case, &id);
            assert!(
                status["status"] == "completed" && lines == 1,
                "{tag}: {id} ended {status} with {lines} line(s) on case {case} after {} \
                 kill(s); its events: {:?}",
                self.kills_of.get(&id).copied().unwrap_or(0),
                ws.events(&id)
            );
        }
        let total: usize = CASES.iter().map(|c| sandbox.lines(c).len()).sum();
        assert_eq!(total, ids.len(), "{tag}: no other line on the cases");
    }
}

/// Posts a plan of orders to a workshop in a thread of its own, each
/// answer or connection error recorded; stops when told (the kill).
struct Poster {
    attempted: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(String, Option<u16>)>>,
}

impl Poster {
    fn start(
        url: String,
        plan: Vec<String>,
        gaps: Vec<u64>,
        case_of: BTreeMap<String, &'static str>,
    ) -> Poster {
        let attempted = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (attempted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .no_proxy()
                .build()
                .expect("client");
            let mut results = Vec::new();
            for (id, gap) in plan.into_iter().zip(gaps) {
                std::thread::sleep(Duration::from_millis(gap));
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                seen.lock().unwrap().push(id.clone());
                let body: Value = order(&id, case_of[&id], "10", "2");
                let code = http
                    .post(format!("{url}/create"))
                    .body(body.to_string())
                    .send()
                    .ok()
                    .map(|r| r.status().as_u16());
                results.push((id, code));
            }
            results
        });
        Poster {
            attempted,
            stop,
            thread,
        }
    }

    /// The ids it has sent or is sending so far.
    fn attempted(&self) -> Vec<String> {
        self.attempted.lock().unwrap().clone()
    }

    /// Waits until every post of the plan is answered; the answers.
    fn join(self) -> Vec<(String, Option<u16>)> {
        self.thread.join().expect("poster thread")
    }

    /// Stops after the post under way; every post's answer (`None`: no answer).
    fn finish(self) -> Vec<(String, Option<u16>)> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("poster thread")
    }
}

/// splitmix64: small, seeded, good enough to pick moments and orders.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// How many of the next saves the sandbox will still hold (its
/// `slow_commit_saves` counts down as saves arrive).
fn held_saves_left(sandbox: &Sandbox) -> u64 {
    let faults: Value = sandbox
        .http
        .get(format!("{}/_sandbox/faults", sandbox.url()))
        .send()
        .expect("sandbox faults")
        .json()
        .expect("faults json");
    faults["slow_commit_saves"]
        .as_u64()
        .expect("slow_commit_saves")
}

/// The kinds of an order's events, in order.
fn event_kinds(ws: &Workshop, unique_id: &str) -> Vec<String> {
    ws.events(unique_id)
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect()
}
