//! An ERP outage is the integration's fault (design.md rule 6): orders
//! posted before and during it wait, none fails, nobody requeues, and every
//! one is booked exactly once when the ERP is back. Through the real binary,
//! real headless Chromium and the sandbox's outage faults.

use std::time::Duration;

use serde_json::{json, Value};

use oilmat_testkit::*;

/// Short steps and checks so an outage is seen and left quickly; a small
/// attempt budget so the outage outlasts it many times over.
const OUTAGE: &[&str] = &[
    "--step-timeout-secs",
    "4",
    "--max-attempts",
    "2",
    "--breaker-threshold",
    "2",
    "--check-initial-ms",
    "500",
    "--check-max-ms",
    "2000",
];

fn an_outage_fails_nothing(erp: &str, mode: &str) {
    let sandbox = Sandbox::start(erp);
    sandbox.case("400", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let mut args = FAST.to_vec();
    args.extend_from_slice(OUTAGE);
    let name = format!("down-{mode}-{erp}");
    let ws = Workshop::start(&name, erp, &sandbox, data.path(), &args);

    sandbox.faults(json!({"down": mode}));
    let mut ids = post(&ws, &["o-1", "o-2"]);
    wait_until(
        "the integration to go down",
        Duration::from_secs(120),
        || ws.get("/alive").1["erp"]["state"] == "down",
    );
    ids.extend(post(&ws, &["o-3", "o-4"]));
    for id in &ids {
        let (_, status) = ws.status(id);
        assert_ne!(status["status"], "failed", "{status}");
        let reason = status["reason"].as_str().unwrap_or("");
        assert!(reason.starts_with("waiting for the ERP: "), "{status}");
    }
    // The outage lasts several times the orders' own retry budget (2
    // attempts, 200 ms doubling): still nothing may fail.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(ws.get("/queue?type=error").1["length"], 0);
    let (_, alive) = ws.get("/alive");
    assert_eq!(alive["erp"]["state"], "down", "{alive}");
    assert!(alive["erp"]["since"].is_string(), "{alive}");

    sandbox.faults(json!({"down": Value::Null}));
    let done = ws.wait_final(&ids, Duration::from_secs(150));
    for (id, status) in &done {
        assert_eq!(status["status"], "completed", "{id}: {status}");
        assert_eq!(sandbox.lines_for("400", id), 1, "{id} booked exactly once");
    }
    assert_eq!(ws.get("/queue?type=error").1["length"], 0);
    assert_eq!(ws.get("/alive").1["erp"]["state"], "up");
    let events = ws.cli(&["events", &name]);
    assert!(events.contains("integration down"), "{events}");
    assert!(events.contains("integration up"), "{events}");
}

fn post(ws: &Workshop, ids: &[&str]) -> Vec<String> {
    ids.iter()
        .map(|id| {
            let (code, answer) = ws.create(&order(id, "400", "10", "1,5"));
            assert_eq!(code, 200, "{answer}");
            id.to_string()
        })
        .collect()
}

#[test]
fn http_503_everywhere_au2office() {
    an_outage_fails_nothing("au2office", "503");
}

#[test]
fn a_maintenance_page_admanager() {
    an_outage_fails_nothing("admanager", "maintenance");
}

#[test]
fn connections_closed_au2office() {
    an_outage_fails_nothing("au2office", "close");
}
