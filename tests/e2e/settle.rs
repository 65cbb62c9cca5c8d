//! Exactly once against an ERP whose save commits late (design.md rule 6):
//! a save that was not confirmed within the step's deadline may still land,
//! so the order only looks for its line until the settle time has passed.

use std::time::{Duration, Instant};

use serde_json::json;

use oilmat_testkit::*;

/// How long the sandbox holds the save: longer than the step timeout and
/// the page-load timeout (15 s), shorter than the settle time.
const HELD_SECS: u64 = 18;

fn a_save_that_commits_late_books_once(erp: &str) {
    let sandbox = Sandbox::start(erp);
    sandbox.case("400", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let mut args = FAST.to_vec();
    args.extend_from_slice(&["--step-timeout-secs", "3", "--settle-secs", "40"]);
    let ws = Workshop::start(&format!("settle-{erp}"), erp, &sandbox, data.path(), &args);
    sandbox.faults(json!({"slow_commit": {"saves": 1, "secs": HELD_SECS}}));
    let posted = Instant::now();
    let id = "late-1".to_string();
    assert_eq!(ws.create(&order(&id, "400", "10", "2.5")).0, 200);

    let finals = ws.wait_final(std::slice::from_ref(&id), Duration::from_secs(150));
    assert_eq!(finals[0].1["status"], "completed", "{}", finals[0].1);
    // Count only once the held save has surely landed.
    let landed = posted + Duration::from_secs(HELD_SECS + 2);
    wait_until("the held save's time", Duration::from_secs(60), || {
        Instant::now() >= landed
    });
    assert_eq!(sandbox.lines_for("400", &id), 1, "exactly one line");

    let events = ws.events(&id);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"save submitted"), "{kinds:?}");
    let submissions = kinds.iter().filter(|k| **k == "save submitted").count();
    assert_eq!(submissions, 1, "one save only: {kinds:?}");
}

#[test]
fn au2office_a_save_that_commits_late_books_once() {
    a_save_that_commits_late_books_once("au2office");
}

#[test]
fn admanager_a_save_that_commits_late_books_once() {
    a_save_that_commits_late_books_once("admanager");
}
