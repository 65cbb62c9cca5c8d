//! `oilmat-erp serve`: two workshops (au2office, admanager) against their own
//! sandboxes, the management API end to end, access control, changes that
//! survive a restart, and no password anywhere.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use oilmat_testkit::*;

#[test]
fn the_management_api_runs_two_workshops_and_keeps_secrets() {
    let au = Sandbox::start("au2office");
    let ad = Sandbox::start("admanager");
    for sb in [&au, &ad] {
        sb.case("100", "open");
        sb.item("10");
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (port_a, port_b, port_c) = (free_port(), free_port(), free_port());
    let config = dir.path().join("oilmat.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"
webdriver = "spawn"
[management]
listen = "127.0.0.1:0"
[workshops.alpha]
erp_type = "au2office"
erp_url = "{au}"
port = {port_a}
listen = "127.0.0.1"
username = "{USER}"
password_env = "ALPHA_PW"
[workshops.beta]
erp_type = "admanager"
erp_url = "{ad}"
port = {port_b}
listen = "127.0.0.1"
username = "{USER}"
password = "{PASSWORD}"
"#,
            data = data.display(),
            au = au.url(),
            ad = ad.url()
        ),
    )
    .unwrap();
    std::env::set_var("ALPHA_PW", PASSWORD);
    let host = HostUnderTest::start(&config);

    // Access: no token, a wrong token: 401.
    assert_eq!(
        host.call(reqwest::Method::GET, "/integrations", None, None)
            .0,
        401
    );
    assert_eq!(
        host.call(reqwest::Method::GET, "/integrations", Some("wrong"), None)
            .0,
        401
    );
    assert_eq!(
        host.call(reqwest::Method::GET, "/metrics", Some("wrong"), None)
            .0,
        401
    );
    let alpha = host.integration("alpha");
    assert_eq!(
        (
            alpha["api"].as_str(),
            alpha["worker"].as_str(),
            alpha["erp_type"].as_str()
        ),
        (Some("running"), Some("running"), Some("au2office"))
    );
    assert_eq!(host.integration("beta")["erp_type"], "admanager");

    // Orders through both workshops land once each.
    assert_eq!(post_order(port_a, "a-1", "100").0, 200);
    assert_eq!(post_order(port_b, "b-1", "100").0, 200);
    wait_completed(port_a, "a-1");
    wait_completed(port_b, "b-1");
    assert_eq!(au.lines_for("100", "a-1"), 1);
    assert_eq!(ad.lines_for("100", "b-1"), 1);
    let (code, events) = host.get("/integrations/alpha/events?unique_id=a-1");
    assert_eq!(code, 200);
    assert_eq!(
        events.as_array().unwrap().last().unwrap()["kind"],
        "completed"
    );
    assert!(host.integration("alpha")["last_completed_at"].is_string());

    // An invalid change is refused and the running integration is left as it was.
    let (code, answer) = host.put("/integrations/alpha", Some(json!({"erp_type": "sap"})));
    assert_eq!(code, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("sap"));
    let (code, answer) = host.put("/integrations/alpha", Some(json!({"port": port_b})));
    assert_eq!(code, 400, "a port another integration uses: {answer}");
    let (code, answer) = host.put("/integrations/alpha", Some(json!({"bogus": 1})));
    assert_eq!(code, 400, "unknown fields are refused: {answer}");
    // ?verify=true tries the credentials on the ERP's login page first.
    let (code, answer) = host.put(
        "/integrations/alpha?verify=true",
        Some(json!({"password": "not-the-password"})),
    );
    assert_eq!(code, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("login failed"),
        "{answer}"
    );
    assert_eq!(post_order(port_a, "a-2", "100").0, 200);
    wait_completed(port_a, "a-2");

    // A valid change (a new port) restarts just that integration; the password is kept.
    let (code, answer) = host.put("/integrations/alpha", Some(json!({"port": port_c})));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["port"], port_c);
    assert_eq!(answer["config"]["password_set"], true);
    assert_eq!(post_order(port_c, "a-3", "100").0, 200);
    wait_completed(port_c, "a-3");

    // Worker and API control.
    assert_eq!(
        host.put("/integrations/beta/worker/stop", None).1["worker"],
        "stopped"
    );
    assert_eq!(host.integration("beta")["worker"], "stopped");
    assert_eq!(post_order(port_b, "b-2", "100").0, 200);
    assert_eq!(host.integration("beta")["queue"]["task"], 1);
    assert_eq!(
        host.put("/integrations/beta/worker/start", None).1["worker"],
        "running"
    );
    wait_completed(port_b, "b-2");
    assert_eq!(host.put("/integrations/beta/api/stop", None).0, 200);
    assert_eq!(host.integration("beta")["api"], "stopped");
    assert!(client()
        .get(format!("http://127.0.0.1:{port_b}/alive"))
        .send()
        .is_err());
    assert_eq!(host.put("/integrations/beta/api/start", None).0, 200);
    assert_eq!(
        client()
            .get(format!("http://127.0.0.1:{port_b}/alive"))
            .send()
            .unwrap()
            .status(),
        200
    );

    // A failed order is requeued from the management API.
    au.faults(json!({}));
    let body = json!({"workshop": "w", "case_id": "100", "product_nr": "999", "product_amount": "1", "unique_id": "a-bad"});
    client()
        .post(format!("http://127.0.0.1:{port_c}/create"))
        .body(body.to_string())
        .send()
        .unwrap();
    wait_until("a-bad failed", Duration::from_secs(120), || {
        order_status(port_c, "a-bad")["status"] == "failed"
    });
    assert_eq!(host.integration("alpha")["queue"]["error"], 1);
    au.item("999");
    let (code, answer) = host.call(
        reqwest::Method::POST,
        "/integrations/alpha/requeue?unique_id=a-bad",
        Some(TOKEN),
        None,
    );
    assert_eq!((code, answer["requeued"].as_u64()), (200, Some(1)));
    wait_completed(port_c, "a-bad");

    // Metrics for every workshop, labelled.
    let (code, metrics) = host.get("/metrics");
    assert_eq!(code, 200);
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains(r#"oilmat_orders_completed_total{workshop="alpha"} 4"#),
        "{text}"
    );
    assert!(
        text.contains(r#"oilmat_orders_completed_total{workshop="beta"} 2"#),
        "{text}"
    );

    // /kill on a workshop port stops that integration only.
    let kill = format!("http://127.0.0.1:{port_b}/kill");
    assert_eq!(
        client().put(&kill).send().unwrap().status(),
        401,
        "control endpoints need the token"
    );
    let r = client().put(&kill).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(r.status(), 200);
    wait_until("beta's API to stop", Duration::from_secs(10), || {
        host.integration("beta")["api"] == "stopped"
    });
    assert_eq!(host.get("/integrations").0, 200);
    assert_eq!(post_order(port_c, "a-4", "100").0, 200);

    // Delete beta, restart the host: the API's changes win over the file.
    assert_eq!(
        host.call(
            reqwest::Method::DELETE,
            "/integrations/beta",
            Some(TOKEN),
            None
        )
        .0,
        200
    );
    assert_eq!(host.get("/integrations/beta").0, 404);
    let mut outputs = Vec::new();
    for path in [
        "/integrations",
        "/integrations/alpha",
        "/metrics",
        "/integrations/alpha/events?unique_id=a-1",
    ] {
        outputs.push(host.get(path).1.to_string());
    }
    let mut host = host;
    host.proc.child.kill().unwrap();
    host.proc.child.wait().unwrap();
    outputs.push(host.proc.log());
    let host = HostUnderTest::start(&config);
    assert_eq!(
        host.get("/integrations/beta").0,
        404,
        "a deleted integration stays deleted"
    );
    assert_eq!(
        host.integration("alpha")["port"],
        port_c,
        "the changed port survives the restart"
    );
    wait_completed(port_c, "a-4");
    outputs.push(host.get("/integrations/alpha").1.to_string());
    outputs.push(host.proc.log());

    // No password anywhere: not on disk under the data dir, not in any output or answer.
    assert_no_password_under(&data);
    for output in outputs {
        assert!(!output.contains(PASSWORD), "password leaked: {output}");
    }
}

fn assert_no_password_under(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_password_under(&path);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes());
            assert!(!found, "password in plain text in {}", path.display());
        }
    }
}

#[test]
fn a_workshop_that_cannot_start_is_reported_and_the_others_run() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("100", "open");
    sandbox.item("10");
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let (port_taken, port_ok) = (taken.local_addr().unwrap().port(), free_port());
    let table = |name: &str, erp: &str, port: u16| {
        format!(
            "[workshops.{name}]\nerp_type = \"{erp}\"\nerp_url = \"{}\"\nport = {port}\nlisten = \"127.0.0.1\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n",
            sandbox.url()
        )
    };
    let config = dir.path().join("oilmat.toml");
    let text = format!(
        "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n{}{}{}",
        dir.path().join("data").display(),
        table("busyport", "au2office", port_taken),
        table("badtype", "sap", free_port()),
        table("fine", "au2office", port_ok)
    );
    std::fs::write(&config, text).unwrap();
    let host = HostUnderTest::start(&config);
    let busy = host.integration("busyport");
    assert_eq!(busy["api"], "stopped");
    assert!(
        busy["last_error"]
            .as_str()
            .unwrap()
            .contains(&port_taken.to_string()),
        "{busy}"
    );
    let bad = host.integration("badtype");
    assert!(bad["last_error"].as_str().unwrap().contains("sap"), "{bad}");
    assert_eq!(host.integration("fine")["api"], "running");
    assert_eq!(post_order(port_ok, "ok-1", "100").0, 200);
    wait_completed(port_ok, "ok-1");
    assert!(host
        .proc
        .log()
        .contains("integration not started; the others run"));
}

/// Counts an order's events of `kind` as the management API lists them.
fn count_events(host: &HostUnderTest, workshop: &str, id: &str, kind: &str) -> usize {
    let (code, events) = host.get(&format!("/integrations/{workshop}/events?unique_id={id}"));
    assert_eq!(code, 200, "{events}");
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .count()
}

#[test]
fn a_per_integration_retry_policy_is_honoured() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("100", "open");
    sandbox.item("10");
    sandbox.faults(json!({"fail_saves": 5}));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("oilmat.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"
[management]
listen = "127.0.0.1:0"
[workshops.once]
erp_type = "au2office"
erp_url = "{url}"
port = {port}
listen = "127.0.0.1"
username = "{USER}"
password = "{PASSWORD}"
[workshops.once.retry]
max_attempts = 1
[workshops.once.timeouts]
step_secs = 10
"#,
            data = dir.path().join("data").display(),
            url = sandbox.url()
        ),
    )
    .unwrap();
    let host = HostUnderTest::start(&config);
    let (code, described) = host.get("/integrations/once");
    assert_eq!(code, 200);
    assert_eq!(described["config"]["retry"]["max_attempts"], 1);

    // One refused save and the order fails for good: the file's policy.
    assert_eq!(post_order(port, "r-1", "100").0, 200);
    wait_until("r-1 failed", Duration::from_secs(120), || {
        order_status(port, "r-1")["status"] == "failed"
    });
    assert_eq!(count_events(&host, "once", "r-1", "processing"), 1);
    assert_eq!(count_events(&host, "once", "r-1", "failed"), 1);

    // The same object through the management API: three attempts now.
    let (code, answer) = host.put(
        "/integrations/once",
        Some(json!({"retry": {"max_attempts": 3, "initial_backoff_ms": 100}})),
    );
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["config"]["retry"]["max_attempts"], 3);
    let (code, answer) = host.put(
        "/integrations/once",
        Some(json!({"retry": {"max_attempt": 3}})),
    );
    assert_eq!(code, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("max_attempt"));
    assert_eq!(post_order(port, "r-2", "100").0, 200);
    wait_until("r-2 failed", Duration::from_secs(120), || {
        order_status(port, "r-2")["status"] == "failed"
    });
    assert_eq!(count_events(&host, "once", "r-2", "processing"), 3);
    assert_eq!(sandbox.lines_for("100", "r-2"), 0);
}
