//! An ERP outage is the integration's fault (design.md rule 6): orders
//! posted before and during it wait, none fails, nobody requeues, and every
//! one is booked exactly once when the ERP is back. Through the real binary,
//! real headless Chromium and the sandbox's outage faults, in each of the
//! three ways (503, a maintenance page, closed connections) on both ERP
//! types; what the ERP saw comes from the sandbox's request record.

use std::time::Duration;

use serde_json::{json, Value};

use oilmat_testkit::*;

/// The first wait between reachability checks; it doubles up to
/// [`CHECK_MAX_MS`].
const CHECK_INITIAL_MS: u64 = 500;
/// The longest wait between reachability checks.
const CHECK_MAX_MS: u64 = 2000;
/// How much earlier than its interval a check may come (clock granularity).
const TOLERANCE_MS: u64 = 50;
/// Requests for the login page closer together than this are one visit
/// (the browser's own retry of a closed connection); far below any check
/// interval.
const SAME_VISIT_MS: u64 = 200;
/// Checks the ERP must have seen before it comes back: enough for the
/// interval to double up to its cap, and for the outage to outlast the
/// orders' own retry budget several times over.
const CHECKS_BEFORE_RETURN: usize = 3;

/// Short steps and checks so an outage is seen and left quickly; a small
/// attempt budget (2 attempts, 200 ms doubling) that the outage outlasts.
const OUTAGE: &[&str] = &[
    "--step-timeout-secs",
    "2",
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
    let mut ws = Workshop::start(&name, erp, &sandbox, data.path(), &args);

    sandbox.faults(json!({"down": mode}));
    let mut ids = post(&ws, &["o-1", "o-2"]);
    wait_until(
        "the integration to go down",
        Duration::from_secs(120),
        || nothing_failed(&ws, &ids) && ws.get("/alive").1["erp"]["state"] == "down",
    );
    ids.extend(post(&ws, &["o-3", "o-4"]));
    for id in &ids {
        let (_, status) = ws.status(id);
        let reason = status["reason"].as_str().unwrap_or("");
        assert!(reason.starts_with("waiting for the ERP: "), "{status}");
    }
    // The outage lasts until the ERP has seen several checks: several times
    // the orders' own retry budget. Nothing fails meanwhile.
    let went_down = health_events(&ws, "integration down")[0];
    wait_until("checks of the ERP", Duration::from_secs(120), || {
        nothing_failed(&ws, &ids)
            && checks(&sandbox, erp, went_down, u64::MAX).len() >= CHECKS_BEFORE_RETURN
    });
    let (_, alive) = ws.get("/alive");
    assert_eq!(alive["erp"]["state"], "down", "{alive}");
    assert!(alive["erp"]["since"].is_string(), "{alive}");

    sandbox.faults(json!({"down": Value::Null}));
    let done = ws.wait_final(&ids, Duration::from_secs(150));
    for (id, status) in &done {
        assert_eq!(status["status"], "completed", "{id}: {status}");
        assert_eq!(sandbox.lines_for("400", id), 1, "{id} booked exactly once");
    }
    assert!(nothing_failed(&ws, &ids));
    assert_eq!(ws.get("/alive").1["erp"]["state"], "up");
    let events = ws.cli(&["events", &name]);
    assert!(!events.contains("requeued"), "nobody requeued: {events}");
    assert!(ws.proc.wait_exit(Duration::ZERO).is_none(), "no restart");
    the_erp_saw_paced_checks(&sandbox, &ws, erp);
}

/// What the ERP saw: while the integration was down, its login page at
/// most once per check interval (the doubling schedule, capped); after its
/// return at most one check before the first booking.
fn the_erp_saw_paced_checks(sandbox: &Sandbox, ws: &Workshop, erp: &str) {
    let went_down = health_events(ws, "integration down")[0];
    let came_up = *health_events(ws, "integration up").last().unwrap();
    let seen = sandbox.requests();
    let checks = checks(sandbox, erp, went_down, came_up);
    let timeline: Vec<String> = seen
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {:?} {:?}",
                r.at_ms, r.method, r.path, r.status, r.down
            )
        })
        .collect();
    let gaps: Vec<u64> = checks.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!(
        "{erp}: down at {went_down}, up at {came_up}; checks at +{:?} ms; gaps {gaps:?} ms",
        checks.iter().map(|c| c - went_down).collect::<Vec<_>>()
    );
    assert!(
        checks.len() > CHECKS_BEFORE_RETURN,
        "{checks:?}\n{timeline:#?}"
    );
    // The first check one initial interval after the breaker tripped, then
    // the interval doubles up to its cap: never two in one interval.
    assert!(
        checks[0] + TOLERANCE_MS >= went_down + CHECK_INITIAL_MS,
        "{checks:?}\n{timeline:#?}"
    );
    for (k, gap) in gaps.iter().enumerate() {
        let interval = (CHECK_INITIAL_MS << (k + 1)).min(CHECK_MAX_MS);
        assert!(
            gap + TOLERANCE_MS >= interval,
            "check {} came {gap} ms after the one before (interval {interval} ms)\n{timeline:#?}",
            k + 2
        );
    }
    // The ERP came back with the first request that met no outage after
    // the last that did; at most one check before the first booking.
    let returned = seen
        .iter()
        .rposition(|r| r.down.is_some())
        .map(|i| seen[i + 1..].first().map_or(u64::MAX, |r| r.at_ms))
        .expect("requests that met the outage");
    let first_booking = seen
        .iter()
        .find(|r| r.method == "POST" && r.path == save_path(erp) && r.at_ms >= returned)
        .expect("a booking after the return")
        .at_ms;
    let after_return = checks
        .iter()
        .filter(|c| (returned..first_booking).contains(*c))
        .count();
    eprintln!(
        "{erp}: {after_return} check(s) after the return; first booking {} ms after it",
        first_booking - returned
    );
    assert!(after_return <= 1, "{after_return} checks\n{timeline:#?}");
}

/// The checks the ERP saw between `from_ms` and `to_ms`, when each began.
/// A check, from the ERP's side, is a visit to its login page while the
/// integration is down (the worker takes no orders then, so nothing else
/// asks for it). A browser whose connection was closed unanswered asks
/// again by itself at once (Chromium retries an idempotent request a few
/// ms later): requests less than [`SAME_VISIT_MS`] apart are one visit.
fn checks(sandbox: &Sandbox, erp: &str, from_ms: u64, to_ms: u64) -> Vec<u64> {
    let mut visits: Vec<u64> = Vec::new();
    let mut last = None;
    let requests = sandbox.requests();
    let logins = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path == login_path(erp))
        .map(|r| r.at_ms)
        .filter(|at| (from_ms..=to_ms).contains(at));
    for at in logins {
        if last.is_none_or(|l| at - l >= SAME_VISIT_MS) {
            visits.push(at);
        }
        last = Some(at);
    }
    visits
}

/// When the log recorded the whole ERP's health event `kind` (`integration
/// down`, `integration up`), in order, ms since the epoch.
fn health_events(ws: &Workshop, kind: &str) -> Vec<u64> {
    ws.cli(&["events", &ws.name, "--json"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("event json"))
        .filter(|e| e["kind"] == kind && e["login"].is_null())
        .map(|e| e["ts_ms"].as_u64().expect("ts_ms"))
        .collect()
}

/// No order failed, and the error queue is empty.
fn nothing_failed(ws: &Workshop, ids: &[String]) -> bool {
    let (_, errors) = ws.get("/queue?type=error");
    assert_eq!(errors["length"], 0, "{errors}");
    for id in ids {
        let (_, status) = ws.status(id);
        assert_ne!(status["status"], "failed", "{status}");
    }
    true
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

macro_rules! outages {
    ($($name:ident: $mode:literal),* $(,)?) => {
        mod au2office {
            $(#[test] fn $name() { super::an_outage_fails_nothing("au2office", $mode) })*
        }
        mod admanager {
            $(#[test] fn $name() { super::an_outage_fails_nothing("admanager", $mode) })*
        }
    };
}

outages!(http_503: "503", a_maintenance_page: "maintenance", connections_closed: "close");
