//! The worker's on/off switch through the real binary: `/stop_worker` and
//! `/start_worker` close together end in the state of the last call, in
//! `/alive` and in the log (a restart comes up in that state); after a stop
//! is answered, no attempt starts until the next start.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use oilmat_testkit::*;

const NAME: &str = "switch";
const CASE: &str = "610";

fn start(sandbox: &Sandbox, dir: &std::path::Path) -> Workshop {
    Workshop::start(NAME, "au2office", sandbox, dir, FAST)
}

fn alive_running(ws: &Workshop) -> bool {
    let (code, body) = ws.get("/alive");
    assert_eq!(code, 200, "{body}");
    body["API is alive, worker running"]
        .as_bool()
        .expect("worker running flag")
}

/// `threads` callers at once, each sending `pattern` (true: start) `rounds`
/// times over, every call answered before its next; each caller's last call
/// is the last of `pattern`, so the last call of all is that one too.
fn interleave(ws: &Workshop, threads: usize, rounds: usize, pattern: [bool; 2]) {
    std::thread::scope(|scope| {
        for t in 0..threads {
            let url = ws.url().to_string();
            scope.spawn(move || {
                let http = client();
                for r in 0..rounds {
                    for run in pattern {
                        let path = if run { "start_worker" } else { "stop_worker" };
                        let answer = http
                            .put(format!("{url}/{path}"))
                            .send()
                            .unwrap_or_else(|e| panic!("caller {t} round {r}: {e}"));
                        assert_eq!(answer.status().as_u16(), 200);
                        let body: Value = answer.json().expect("json");
                        assert_eq!(body["Worker running"], run, "caller {t} round {r}");
                    }
                }
            });
        }
    });
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

/// Every event of the workshop's log.
fn all_events(ws: &Workshop) -> Vec<Value> {
    ws.cli(&["events", NAME, "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("event json"))
        .collect()
}

/// The orders whose attempts started (`processing`) within `from..to` (ms).
fn attempts_between(ws: &Workshop, from: u64, to: u64) -> Vec<Value> {
    all_events(ws)
        .into_iter()
        .filter(|e| e["kind"] == "processing")
        .filter(|e| e["ts_ms"].as_u64().is_some_and(|ts| ts > from && ts < to))
        .collect()
}

#[test]
fn stop_and_start_close_together_end_in_the_last_call_also_after_a_restart() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case(CASE, "open");
    sandbox.item("10");
    // Attempts take a while, so that stops wait for attempts in progress.
    sandbox.faults(json!({"page_delay_ms": 150}));
    let data = tempfile::tempdir().unwrap();
    let mut ws = start(&sandbox, data.path());
    let mut ids = Vec::new();
    for i in 0..6 {
        let id = format!("sw-{i}");
        assert_eq!(ws.create(&order(&id, CASE, "10", "1")).0, 200);
        ids.push(id);
    }

    // Given orders being booked, when four callers each stop and start the
    // worker five times at once, then the worker runs (every last call was
    // a start), in /alive and after a restart.
    interleave(&ws, 4, 5, [false, true]);
    assert!(alive_running(&ws), "the last call was a start");
    ws.kill_and_wait();
    ws = start(&sandbox, data.path());
    assert!(alive_running(&ws), "the log says running after a restart");

    // When they each start and stop five times at once, then it is stopped,
    // also after a restart.
    interleave(&ws, 4, 5, [true, false]);
    assert!(!alive_running(&ws), "the last call was a stop");
    ws.kill_and_wait();
    ws = start(&sandbox, data.path());
    assert!(!alive_running(&ws), "the log says stopped after a restart");

    // Nothing was booked twice through all this.
    assert_eq!(ws.put("/start_worker").1["Worker running"], true);
    for (id, status) in ws.wait_final(&ids, Duration::from_secs(180)) {
        assert_eq!(status["status"], "completed", "{id}: {status}");
        assert_eq!(sandbox.lines_for(CASE, &id), 1, "{id} booked once");
    }
}

#[test]
fn after_a_stop_is_answered_no_attempt_starts_until_the_next_start() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case(CASE, "open");
    sandbox.item("10");
    sandbox.faults(json!({"page_delay_ms": 150}));
    let data = tempfile::tempdir().unwrap();
    let ws = start(&sandbox, data.path());
    // Given a worker busy with a backlog
    let mut ids = Vec::new();
    for i in 0..4 {
        let id = format!("busy-{i}");
        assert_eq!(ws.create(&order(&id, CASE, "10", "1")).0, 200);
        ids.push(id);
    }
    wait_until("an attempt in progress", Duration::from_secs(60), || {
        ids.iter()
            .any(|id| ws.status(id).1["status"] == "processing")
    });
    // When a stop is answered "stopped"
    let (code, body) = ws.put("/stop_worker");
    assert_eq!((code, body["Worker running"].as_bool()), (200, Some(false)));
    let stopped_at = now_ms();
    assert!(!alive_running(&ws));
    // and an order is posted after it
    assert_eq!(ws.create(&order("late", CASE, "10", "2")).0, 200);
    // then for a while nothing is attempted: the late order stays received
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        assert_eq!(ws.status("late").1["status"], "received");
        std::thread::sleep(Duration::from_millis(100));
    }
    let started_at = now_ms();
    // and no attempt of any order started between the answer and the start.
    assert_eq!(ws.put("/start_worker").1["Worker running"], true);
    assert_eq!(
        attempts_between(&ws, stopped_at, started_at),
        Vec::<Value>::new()
    );
    // When started again, then every order is booked once.
    ids.push("late".to_string());
    for (id, status) in ws.wait_final(&ids, Duration::from_secs(180)) {
        assert_eq!(status["status"], "completed", "{id}: {status}");
        assert_eq!(sandbox.lines_for(CASE, &id), 1, "{id} booked once");
    }
    let first_late = all_events(&ws)
        .into_iter()
        .find(|e| e["kind"] == "processing" && e["unique_id"] == "late")
        .expect("the late order was attempted");
    assert!(first_late["ts_ms"].as_u64().unwrap_or(0) >= started_at);
}
