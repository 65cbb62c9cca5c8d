//! The dashboards and alert rules in `dashboards/` are valid and use only
//! metrics the service really exports: a running workshop (real binary) is
//! scraped after a few orders and checked with promtool; its counters match
//! the orders sent.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use oilmat_erp::event_log::views::{failure_class, FAILURE_CLASSES};
use oilmat_testkit::*;
use serde_json::Value;

fn dashboards() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Runs promtool with `args` (and `stdin`); fails the test with its output
/// unless it succeeds.
fn promtool(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`; scripts/install-deps --with-promtool)");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The `oilmat_*` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("oilmat_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let before = rest[..at].chars().last();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// The series names a scrape holds (`name{...} value` and `name value` lines).
fn scraped_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The value of the series `name{labels}` (labels exactly as rendered, sorted).
fn value_of(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in\n{scrape}"))
        .trim()
        .parse()
        .unwrap()
}

/// Every PromQL query of the Grafana dashboard, Grafana variables replaced.
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(dashboards().join("grafana/oilmat-erp.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard JSON");
    assert_eq!(dashboard["uid"], "oilmat-erp");
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables.iter().any(|v| v["name"] == "workshop"));
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            queries.push(
                expr.replace("$__rate_interval", "5m")
                    .replace("$workshop", ".*"),
            );
        }
    }
    assert!(queries.len() >= 10, "{queries:?}");
    queries
}

/// Checks the dashboard's queries parse, as promtool checks recording rules.
fn check_dashboard_queries(queries: &[String], dir: &Path) {
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, q) in queries.iter().enumerate() {
        let q = q.replace('\'', "''");
        rules.push_str(&format!(
            "      - record: dashboard:q{i}\n        expr: '{q}'\n"
        ));
    }
    let file = dir.join("dashboard-queries.yml");
    std::fs::write(&file, rules).unwrap();
    promtool(&["check", "rules", file.to_str().unwrap()], None);
}

/// Starts a workshop with a periodic probe, sends 2 good orders, one for an
/// unknown item and a bad request; its scrape once the orders are final and
/// the probe has run.
fn scrape_after_orders(data: &Path) -> String {
    let sandbox = seeded_sandbox();
    let probe = [
        ("OILMAT_PROBE_CASE", "558"),
        ("OILMAT_PROBE_INTERVAL_SECS", "1"),
        ("OILMAT_PROBE_USERNAME", USER),
        ("OILMAT_PROBE_PASSWORD", PASSWORD),
    ];
    let ws = Workshop::start_env("scraped", "au2office", &sandbox, data, FAST, &probe);
    for (id, item) in [("dash-1", "10"), ("dash-2", "10"), ("dash-3", "999")] {
        let (code, body) = ws.create(&order(id, "558", item, "2"));
        assert_eq!(code, 200, "{body}");
    }
    let (code, _) = ws.create(&order("dash-4", "558", "10", "-1"));
    assert_eq!(code, 400);
    let statuses = ws.wait_final(
        &["dash-1", "dash-2", "dash-3"].map(String::from),
        Duration::from_secs(120),
    );
    let final_states: Vec<&str> = statuses
        .iter()
        .map(|(_, s)| s["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(final_states, ["completed", "completed", "failed"]);
    let mut scrape = String::new();
    wait_until("the probe's metrics", Duration::from_secs(60), || {
        scrape = ws.get_text("/metrics");
        scrape.contains("oilmat_probe_success{")
    });
    scrape
}

#[test]
fn dashboards_and_rules_use_only_exported_metrics() {
    let data = tempfile::tempdir().unwrap();
    let scrape = scrape_after_orders(data.path());
    promtool(&["check", "metrics"], Some(&scrape));

    // Counters match the orders sent.
    let w = "workshop=\"scraped\"";
    assert_eq!(
        value_of(&scrape, &format!("oilmat_orders_received_total{{{w}}}")),
        3.0
    );
    assert_eq!(
        value_of(&scrape, &format!("oilmat_orders_completed_total{{{w}}}")),
        2.0
    );
    assert_eq!(
        value_of(&scrape, &format!("oilmat_orders_bad_request_total{{{w}}}")),
        1.0
    );
    let failed = |reason: &str| {
        value_of(
            &scrape,
            &format!("oilmat_orders_failed_total{{reason=\"{reason}\",{w}}}"),
        )
    };
    assert_eq!(failed("unknown_item"), 1.0);
    assert_eq!(failed("login_failed"), 0.0);
    assert_eq!(
        value_of(&scrape, &format!("oilmat_probe_success{{{w}}}")),
        1.0
    );

    let prometheus = dashboards().join("prometheus");
    let path = |f: &str| prometheus.join(f).to_str().unwrap().to_string();
    promtool(&["check", "rules", &path("alerts.yml")], None);
    promtool(&["check", "config", &path("prometheus.yml")], None);
    promtool(&["test", "rules", &path("alerts_test.yml")], None);
    let queries = dashboard_queries();
    check_dashboard_queries(&queries, data.path());

    let exported = scraped_names(&scrape);
    let known = |name: &str| {
        exported.contains(name)
            || ["_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| exported.contains(&format!("{name}{suffix}")))
    };
    let rules = std::fs::read_to_string(prometheus.join("alerts.yml")).unwrap();
    for (source, text) in [("dashboard", queries.join("\n")), ("alerts.yml", rules)] {
        let used = metric_names(&text);
        assert!(!used.is_empty(), "{source} uses no oilmat metric");
        let unknown: Vec<&String> = used.iter().filter(|n| !known(n)).collect();
        assert!(
            unknown.is_empty(),
            "{source} uses metrics the service does not export: {unknown:?}\nexported: {exported:?}"
        );
    }
}

#[test]
fn failure_reasons_fall_into_a_small_fixed_set() {
    let cases = [
        ("login failed", "login_failed"),
        ("unknown item: Ukendt varenummer", "unknown_item"),
        ("unknown case: Sagen findes ikke", "unknown_case"),
        ("closed case: case 558 is closed", "closed_case"),
        (
            "bad input: amount \"x\" is not a positive number",
            "bad_input",
        ),
        (
            "timeout: confirm save (gave up after 5 attempts)",
            "retries_exhausted",
        ),
        ("something new", "other"),
    ];
    for (reason, class) in cases {
        assert_eq!(failure_class(reason), class, "{reason}");
        assert!(FAILURE_CLASSES.contains(&class));
    }
}
