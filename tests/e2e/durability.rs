//! Nothing acknowledged is lost, nothing is booked twice: crashes, a disk
//! that refuses writes, and a save the ERP stores but never confirms.

use std::time::Duration;

use serde_json::json;

use oilmat_testkit::*;

#[test]
fn kill_9_mid_flight_then_restart_completes_every_acknowledged_order_once() {
    let sandbox = Sandbox::start("au2office");
    for case in ["700", "701", "702"] {
        sandbox.case(case, "open");
    }
    sandbox.item("10");
    // Slow pages keep orders in flight when the kill comes.
    sandbox.faults(json!({"page_delay_ms": 300}));
    let data = tempfile::tempdir().unwrap();
    let mut ws = Workshop::start("crash", "au2office", &sandbox, data.path(), FAST);
    let cases = ["700", "701", "702"];
    let ids: Vec<String> = (0..8).map(|i| format!("crash-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(ws.create(&order(id, cases[i % 3], "10", "1")).0, 200);
    }
    wait_until(
        "the first order to complete",
        Duration::from_secs(120),
        || {
            ids.iter()
                .any(|id| ws.status(id).1["status"] == "completed")
        },
    );
    ws.proc.kill_hard();

    let ws = Workshop::start("crash", "au2office", &sandbox, data.path(), FAST);
    for (id, status) in ws.wait_final(&ids, Duration::from_secs(180)) {
        assert_eq!(status["status"], "completed", "{id}: {status}");
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            sandbox.lines_for(cases[i % 3], id),
            1,
            "{id} must be on its case exactly once"
        );
    }
}

#[test]
fn a_save_stored_but_never_confirmed_is_retried_without_a_second_line() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("800", "open");
    sandbox.item("10");
    sandbox.faults(json!({"store_without_confirm": 1}));
    let data = tempfile::tempdir().unwrap();
    let ws = Workshop::start(
        "unconfirmed",
        "au2office",
        &sandbox,
        data.path(),
        &["--initial-backoff-ms", "200", "--step-timeout-secs", "5"],
    );
    assert_eq!(ws.create(&order("u-1", "800", "10", "2.5")).0, 200);
    let done = ws.wait_final(&["u-1".to_string()], Duration::from_secs(120));
    assert_eq!(done[0].1["status"], "completed");
    assert_eq!(sandbox.lines_for("800", "u-1"), 1);
    let events = ws.events("u-1");
    let failed = events
        .iter()
        .find(|e| e["kind"] == "failed")
        .expect("the unconfirmed attempt failed");
    assert_eq!(failed["final"], false);
    assert!(
        failed["reason"].as_str().unwrap().starts_with("timeout"),
        "{failed}"
    );
    let completed = events.iter().find(|e| e["kind"] == "completed").unwrap();
    assert_eq!(
        completed["already_present"], true,
        "the retry found the stored line"
    );
}

#[test]
fn an_unwritable_log_answers_503_acknowledges_nothing_and_recovers() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("810", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let ws = Workshop::start("diskfull", "au2office", &sandbox, data.path(), FAST);
    assert_eq!(ws.create(&order("d-1", "810", "10", "1")).0, 200);

    // The kernel now refuses to grow any file of the service: a full disk, as it sees it.
    let pid = ws.proc.child.id() as i32;
    set_file_size_limit(pid, 0);
    let (code, answer) = ws.create(&order("d-2", "810", "10", "1"));
    assert_eq!(code, 503, "{answer}");
    assert_eq!(ws.status("d-2").0, 404, "a 503 acknowledges nothing");
    assert_eq!(
        ws.status("d-1").1["status"]
            .as_str()
            .map(|s| s != "bad request"),
        Some(true)
    );

    // The disk comes back: the service recovers by itself.
    set_file_size_limit(pid, libc::RLIM_INFINITY);
    wait_until(
        "the log to accept orders again",
        Duration::from_secs(30),
        || ws.create(&order("d-2", "810", "10", "1")).0 == 200,
    );
    let ids = ["d-1".to_string(), "d-2".to_string()];
    for (id, status) in ws.wait_final(&ids, Duration::from_secs(120)) {
        assert_eq!(status["status"], "completed", "{id}");
        assert_eq!(sandbox.lines_for("810", &id), 1);
    }
}

fn set_file_size_limit(pid: i32, bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// The number of attempts (`processing` events) the log holds for an order.
fn attempts_of(ws: &Workshop, unique_id: &str) -> usize {
    ws.events(unique_id)
        .iter()
        .filter(|e| e["kind"] == "processing")
        .count()
}

#[test]
fn an_order_the_process_keeps_dying_on_fails_as_a_crash_loop_and_the_queue_goes_on() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("900", "open");
    sandbox.item("10");
    // Every page is held, so each attempt is still before its save when
    // the process dies.
    sandbox.faults(json!({"hang_pages_ms": 8_000}));
    let data = tempfile::tempdir().unwrap();
    let args: Vec<&str> = FAST.iter().copied().chain(["--crash-limit", "2"]).collect();
    let mut ws = Workshop::start("looping", "au2office", &sandbox, data.path(), &args);
    assert_eq!(ws.create(&order("loop-1", "900", "10", "1")).0, 200);
    // Given the process dies twice (the limit) while the order's attempt runs
    for died in 1..=2 {
        wait_until(
            &format!("attempt {died} of loop-1 to start"),
            Duration::from_secs(60),
            || attempts_of(&ws, "loop-1") >= died,
        );
        ws.proc.kill_hard();
        if died < 2 {
            ws = Workshop::start("looping", "au2office", &sandbox, data.path(), &args);
        }
    }
    // When the workshop starts again, with the ERP working and a new order
    sandbox.faults(json!({"hang_pages_ms": 0}));
    let ws = Workshop::start("looping", "au2office", &sandbox, data.path(), &args);
    assert_eq!(ws.create(&order("after-1", "900", "10", "2")).0, 200);
    let ids = ["loop-1".to_string(), "after-1".to_string()];
    let done = ws.wait_final(&ids, Duration::from_secs(120));
    // Then the looping order fails, saying why, without a third attempt,
    let (status, reason) = (&done[0].1["status"], done[0].1["reason"].as_str());
    assert_eq!(status, "failed", "{:?}", done[0]);
    let reason = reason.unwrap_or_default();
    assert!(reason.starts_with("crash loop: "), "{reason}");
    assert!(reason.contains("no line was added"), "{reason}");
    assert_eq!(attempts_of(&ws, "loop-1"), 2);
    assert_eq!(sandbox.lines_for("900", "loop-1"), 0);
    // and the orders behind it are booked.
    assert_eq!(done[1].1["status"], "completed", "{:?}", done[1]);
    assert_eq!(sandbox.lines_for("900", "after-1"), 1);
}
