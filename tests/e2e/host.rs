//! `oilmat-erp serve`: two workshops (au2office, admanager) against their own
//! sandboxes, the management API end to end, access control, changes that
//! survive a restart, and no password anywhere.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

const TOKEN: &str = "test-admin-token-31337";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct HostUnderTest {
    proc: Proc,
    http: reqwest::blocking::Client,
}

impl HostUnderTest {
    fn start(config: &Path) -> HostUnderTest {
        let proc = Proc::start(
            &["serve", "--config", config.to_str().unwrap()],
            "host",
            &[("OILMAT_ADMIN_TOKEN", TOKEN)],
        );
        HostUnderTest {
            proc,
            http: client(),
        }
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.proc.url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().unwrap();
        let code = r.status().as_u16();
        let text = r.text().unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(TOKEN), None)
    }

    fn put(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(TOKEN), body)
    }

    fn integration(&self, name: &str) -> Value {
        let (code, all) = self.get("/integrations");
        assert_eq!(code, 200);
        all.as_array()
            .unwrap()
            .iter()
            .find(|i| i["workshop"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

fn post_order(port: u16, id: &str, case: &str) -> (u16, Value) {
    // Under serve the integration's own login wins: the order needs none.
    let body = json!({"workshop": "w", "case_id": case, "product_nr": "10", "product_amount": "1,5", "unique_id": id});
    let r = client()
        .post(format!("http://127.0.0.1:{port}/create"))
        .body(body.to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

fn order_status(port: u16, id: &str) -> Value {
    client()
        .get(format!(
            "http://127.0.0.1:{port}/check_order_status?unique_id={id}"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap_or(Value::Null)
}

fn wait_completed(port: u16, id: &str) {
    wait_until(&format!("{id} completed"), Duration::from_secs(120), || {
        order_status(port, id)["status"] == "completed"
    });
}

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
username = "{USER}"
password_env = "ALPHA_PW"
[workshops.beta]
erp_type = "admanager"
erp_url = "{ad}"
port = {port_b}
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

/// Writes a host config with two au2office workshops; (config path, data dir, ports).
fn two_workshop_config(
    dir: &Path,
    a: &Sandbox,
    b: &Sandbox,
) -> (std::path::PathBuf, std::path::PathBuf, u16, u16) {
    let data = dir.join("data");
    let (port_a, port_b) = (free_port(), free_port());
    let config = dir.join("oilmat.toml");
    let table = |name: &str, url: &str, port: u16| {
        format!("[workshops.{name}]\nerp_type = \"au2office\"\nerp_url = \"{url}\"\nport = {port}\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n")
    };
    let text = format!(
        "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n{}{}",
        data.display(),
        table("noisy", a.url(), port_a),
        table("quiet", b.url(), port_b)
    );
    std::fs::write(&config, text).unwrap();
    (config, data, port_a, port_b)
}

/// Posts `n` orders to the workshop on `port` and waits until all are completed.
fn book_batch(port: u16, prefix: &str, n: usize) -> Duration {
    let started = std::time::Instant::now();
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for id in &ids {
        assert_eq!(post_order(port, id, "100").0, 200);
    }
    for id in &ids {
        wait_completed(port, id);
    }
    started.elapsed()
}

#[test]
fn a_troubled_neighbour_does_not_slow_a_workshop_down() {
    let (noisy_erp, quiet_erp) = (Sandbox::start("au2office"), Sandbox::start("au2office"));
    for sb in [&noisy_erp, &quiet_erp] {
        sb.case("100", "open");
        sb.item("10");
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data, port_noisy, port_quiet) =
        two_workshop_config(dir.path(), &noisy_erp, &quiet_erp);
    let host = HostUnderTest::start(&config);
    book_batch(port_quiet, "warm", 1);
    book_batch(port_noisy, "warm", 1);
    let quiet_alone = book_batch(port_quiet, "alone", 4);

    // The neighbour's ERP hangs, its browser keeps being killed, and it gets a flood.
    noisy_erp.faults(json!({"hang_pages_ms": 60000}));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 1500 {
                assert_eq!(
                    post_order(port_noisy, &format!("flood-{sent}"), "100").0,
                    200
                );
                sent += 1;
            }
            sent
        })
    };
    let pidfile = data.join("noisy").join("chromedriver.pid");
    let crasher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                kill_recorded_chromedriver(&pidfile);
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let quiet_troubled = book_batch(port_quiet, "troubled", 4);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flooded = flood.join().unwrap();
    crasher.join().unwrap();

    eprintln!("quiet workshop, 4 orders: {quiet_alone:?} alone, {quiet_troubled:?} beside a hung, crashing, flooded neighbour ({flooded} orders)");
    assert!(flooded > 0);
    assert!(
        quiet_troubled <= quiet_alone * 3,
        "the quiet workshop took {quiet_troubled:?} with a troubled neighbour, {quiet_alone:?} alone"
    );
    let noisy = host.integration("noisy");
    assert!(
        noisy["queue"]["task"].as_u64().unwrap() > 0,
        "the flood is queued, not lost: {noisy}"
    );
    assert_eq!(quiet_erp.lines("100").len(), 9);
}
