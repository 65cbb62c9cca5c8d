//! Browser hygiene: no chromedriver or Chromium outlives the worker that
//! started it (stop, idle, /kill, kill -9 then restart), and a chromedriver
//! killed mid-order costs one retried attempt, never a second line.

use std::time::Duration;

use serde_json::json;

use oilmat_testkit::*;

/// The chromedriver process group the workshop recorded, if any.
fn recorded_group(ws: &Workshop) -> Option<i32> {
    let path = ws.data_dir.join(&ws.name).join("chromedriver.pid");
    let text = std::fs::read_to_string(path).ok()?;
    // `PID START` (the start time guards against a reused pid).
    text.split_whitespace().next()?.parse().ok()
}

/// True while any live (non-zombie) process is in process group `pgid`.
fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid pgrp ...
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

fn setup(name: &str, extra: &[&str]) -> (Sandbox, tempfile::TempDir, Workshop) {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("300", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let mut args = FAST.to_vec();
    args.extend_from_slice(extra);
    let ws = Workshop::start(name, "au2office", &sandbox, data.path(), &args);
    (sandbox, data, ws)
}

fn book(ws: &Workshop, id: &str) {
    assert_eq!(ws.create(&order(id, "300", "10", "1")).0, 200);
    let done = ws.wait_final(&[id.to_string()], Duration::from_secs(120));
    assert_eq!(done[0].1["status"], "completed", "{done:?}");
}

fn wait_gone(pgid: i32, what: &str) {
    wait_until(what, Duration::from_secs(20), || !group_alive(pgid));
}

#[test]
fn the_browser_closes_when_idle_or_stopped_and_on_kill() {
    let (sandbox, _data, mut ws) = setup("hyg", &["--idle-close-secs", "2"]);
    book(&ws, "h-1");
    let first = recorded_group(&ws).expect("a chromedriver group recorded while the browser runs");
    wait_gone(first, "the idle browser to close");
    wait_until("the pid file to be cleared", Duration::from_secs(5), || {
        recorded_group(&ws).is_none()
    });

    book(&ws, "h-2");
    let second = recorded_group(&ws).expect("started again on demand");
    assert_ne!(first, second);
    assert_eq!(ws.put("/stop_worker").0, 200);
    wait_gone(second, "the stopped worker's browser to close");

    assert_eq!(ws.put("/start_worker").0, 200);
    book(&ws, "h-3");
    let third = recorded_group(&ws).unwrap();
    assert_eq!(ws.put("/kill").0, 200);
    assert!(ws.proc.wait_exit(Duration::from_secs(5)).is_some());
    wait_gone(third, "the killed workshop's browser to close");
    assert_eq!(sandbox.lines("300").len(), 3);
}

#[test]
fn a_restart_after_kill_9_cleans_up_the_orphaned_browser() {
    let (sandbox, data, mut ws) = setup("orphan", &[]);
    book(&ws, "o-1");
    let orphan = recorded_group(&ws).unwrap();
    ws.proc.kill_hard();
    assert!(
        group_alive(orphan),
        "kill -9 leaves the browser behind (nothing can stop it)"
    );
    let ws = Workshop::start("orphan", "au2office", &sandbox, data.path(), FAST);
    wait_gone(orphan, "the restarted workshop to reap the orphan");
    book(&ws, "o-2");
    assert_eq!(sandbox.lines("300").len(), 2);
}

#[test]
fn chromedriver_killed_mid_order_is_restarted_and_the_order_booked_once() {
    let (sandbox, _data, ws) = setup("cdkill", &[]);
    book(&ws, "k-0");
    // Pages hang for a while: the kill surely lands mid-attempt.
    sandbox.faults(json!({"hang_pages_ms": 5000}));
    assert_eq!(ws.create(&order("k-1", "300", "10", "1")).0, 200);
    wait_until("k-1 in progress", Duration::from_secs(30), || {
        ws.status("k-1").1["status"] == "processing"
    });
    let group = recorded_group(&ws).unwrap();
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    sandbox.faults(json!({"hang_pages_ms": 0}));
    let done = ws.wait_final(&["k-1".to_string()], Duration::from_secs(120));
    assert_eq!(done[0].1["status"], "completed");
    assert_eq!(sandbox.lines_for("300", "k-1"), 1);
    let events = ws.events("k-1");
    let failed = events
        .iter()
        .find(|e| e["kind"] == "failed")
        .expect("the interrupted attempt failed");
    assert_eq!(failed["final"], false, "{failed}");
    assert_ne!(recorded_group(&ws), Some(group), "a new chromedriver runs");
}
