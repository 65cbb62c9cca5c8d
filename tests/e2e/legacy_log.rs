//! Support tools read a log written by an older build: events without the
//! fields added since (no schema version, no trace id, no durations) still
//! read, fold and replay.

use fjall::{Database, KeyspaceCreateOptions, PersistMode};

use oilmat_testkit::cli;

/// Events as the first builds wrote them (fields added later are absent).
const OLD_EVENTS: [&str; 5] = [
    r#"{"seq":1,"ts_ms":1700000000000,"unique_id":"old-1","kind":"received","order":{"workshop":"w","case_id":"558","product_nr":"10","product_amount":"4.5"}}"#,
    r#"{"seq":2,"ts_ms":1700000001000,"unique_id":"old-1","kind":"processing","attempt":1}"#,
    r#"{"seq":3,"ts_ms":1700000002000,"unique_id":"old-1","kind":"failed","reason":"unknown item: Ukendt varenummer","final":true,"attempt":1}"#,
    r#"{"seq":4,"ts_ms":1700000003000,"unique_id":"old-2","kind":"received","order":{"workshop":"w","case_id":"558","product_nr":"10","product_amount":"1"}}"#,
    r#"{"seq":5,"ts_ms":1700000004000,"kind":"worker stopped","by_operator":true}"#,
];

fn write_old_log(dir: &std::path::Path) {
    let db = Database::builder(dir.join("legacy").join("log"))
        .open()
        .unwrap();
    let events = db
        .keyspace("events", KeyspaceCreateOptions::default)
        .unwrap();
    for (i, text) in OLD_EVENTS.iter().enumerate() {
        events
            .insert(((i + 1) as u64).to_be_bytes(), text.as_bytes())
            .unwrap();
    }
    db.persist(PersistMode::SyncAll).unwrap();
}

#[test]
fn an_older_log_still_reads_and_replays() {
    let data = tempfile::tempdir().unwrap();
    write_old_log(data.path());
    let summary = cli(&["replay", "legacy"], data.path());
    assert!(summary.contains("5 events, 2 orders"), "{summary}");
    assert!(
        summary.contains("worker: stopped by an operator"),
        "{summary}"
    );
    assert!(
        summary.contains("old-1 failed attempt=1 reason=\"unknown item: Ukendt varenummer\""),
        "{summary}"
    );
    assert!(summary.contains("task queue (1)"), "{summary}");
    let timeline = cli(&["replay", "legacy", "--unique-id", "old-1"], data.path());
    assert!(
        timeline.contains("order old-1: failed (unknown item: Ukendt varenummer)"),
        "{timeline}"
    );
    let json = cli(
        &["events", "legacy", "--json", "--status", "failed"],
        data.path(),
    );
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "the failed order's three events: {json}");
    assert!(
        lines.iter().all(|e| e["v"] == 1),
        "old events read as schema version 1"
    );
}
