//! A login the ERP refuses is the integration's fault (design.md rule 6):
//! its orders wait, nothing fails, and once the credentials are fixed the
//! queue resumes by itself. Under `serve` (the integration's own login,
//! fixed through the management API, which checks again at once) and in
//! single-workshop mode (the orders' own login, fixed at the ERP, found by
//! the refused login's check on its schedule).

use std::time::Duration;

use serde_json::{json, Value};

use oilmat_testkit::*;

/// A workshop port's JSON page.
fn get(port: u16, path: &str) -> Value {
    client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .expect("GET")
        .json()
        .unwrap_or(Value::Null)
}

/// No order of `ids` failed and the error queue is empty (on a port).
fn nothing_failed(port: u16, ids: &[&str]) -> bool {
    assert_eq!(get(port, "/queue?type=error")["length"], 0);
    for id in ids {
        let status = order_status(port, id);
        assert_ne!(status["status"], "failed", "{status}");
    }
    true
}

/// Whether the order waits for a refused login.
fn waits_for_the_login(status: &Value) -> bool {
    status["reason"]
        .as_str()
        .is_some_and(|r| r.starts_with("waiting for the ERP: login refused since "))
}

#[test]
fn a_refused_login_fixed_through_the_management_api_resumes_the_queue() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("100", "open");
    sandbox.item("10");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("oilmat.toml");
    // Checks a minute apart: only the check the credentials' change runs
    // at once can let the orders go on within the test's deadline.
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"
[management]
listen = "127.0.0.1:0"
[workshops.relogin]
erp_type = "au2office"
erp_url = "{url}"
port = {port}
listen = "127.0.0.1"
username = "{USER}"
password = "not-the-password"
[workshops.relogin.retry]
max_attempts = 2
initial_backoff_ms = 200
check_initial_ms = 60000
check_max_ms = 60000
[workshops.relogin.timeouts]
step_secs = 5
"#,
            data = dir.path().join("data").display(),
            url = sandbox.url()
        ),
    )
    .unwrap();
    let host = HostUnderTest::start(&config);
    let ids = ["l-1", "l-2"];
    for id in ids {
        assert_eq!(post_order(port, id, "100").0, 200);
    }
    wait_until(
        "the orders to wait for the login",
        Duration::from_secs(90),
        || {
            nothing_failed(port, &ids)
                && ids
                    .iter()
                    .all(|id| waits_for_the_login(&order_status(port, id)))
        },
    );
    let alive = get(port, "/alive");
    assert_eq!(alive["erp"]["state"], "down", "{alive}");

    let (code, answer) = host.put("/integrations/relogin", Some(json!({"password": PASSWORD})));
    assert_eq!(code, 200, "{answer}");
    wait_until("the queue to resume", Duration::from_secs(45), || {
        nothing_failed(port, &ids)
            && ids
                .iter()
                .all(|id| order_status(port, id)["status"] == "completed")
    });
    for id in ids {
        assert_eq!(sandbox.lines_for("100", id), 1, "{id} booked once");
    }
    assert_eq!(get(port, "/alive")["erp"]["state"], "up");
}

#[test]
fn a_refused_login_fixed_at_the_erp_resumes_its_orders() {
    let sandbox = Sandbox::start("admanager");
    sandbox.case("400", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let mut args = FAST.to_vec();
    args.extend_from_slice(&["--check-initial-ms", "500", "--check-max-ms", "1000"]);
    let ws = Workshop::start("relogin-ad", "admanager", &sandbox, data.path(), &args);
    let mut refused = order("r-late", "400", "10", "1");
    refused["username"] = json!("new-employee");
    refused["password"] = json!("given-too-early");
    assert_eq!(ws.create(&refused).0, 200);
    assert_eq!(ws.create(&order("r-good", "400", "10", "2")).0, 200);
    let port = ws.proc.addr().port();
    let ids = ["r-late", "r-good"];
    // The other login goes on; only the refused one's order waits.
    wait_until(
        "the refused login's order to wait",
        Duration::from_secs(90),
        || {
            nothing_failed(port, &ids)
                && waits_for_the_login(&ws.status("r-late").1)
                && ws.status("r-good").1["status"] == "completed"
        },
    );
    let alive = ws.get("/alive").1;
    assert_eq!(alive["erp"]["state"], "up", "{alive}");
    assert_eq!(alive["erp"]["logins_refused"], 1, "{alive}");

    // The ERP's administrator creates the login: the order goes on by itself.
    sandbox.post(
        "users",
        json!({"username": "new-employee", "password": "given-too-early"}),
    );
    wait_until(
        "the waiting order to complete",
        Duration::from_secs(60),
        || nothing_failed(port, &ids) && ws.status("r-late").1["status"] == "completed",
    );
    assert_eq!(sandbox.lines_for("400", "r-late"), 1);
    assert_eq!(sandbox.lines_for("400", "r-good"), 1);
    let alive = ws.get("/alive").1;
    assert!(alive["erp"]["logins_refused"].is_null(), "{alive}");
}

#[test]
fn a_wrong_password_does_not_hold_the_same_users_right_one() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("400", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let mut args = FAST.to_vec();
    args.extend_from_slice(&[
        "--check-initial-ms",
        "500",
        "--check-max-ms",
        "1000",
        "--max-attempts",
        "2",
    ]);
    let ws = Workshop::start("old-pw", "au2office", &sandbox, data.path(), &args);
    // Given an order posted with the user's old password, then one with the right one
    let mut old = order("p-old", "400", "10", "1");
    old["password"] = json!("the-old-password");
    assert_eq!(ws.create(&old).0, 200);
    assert_eq!(ws.create(&order("p-new", "400", "10", "2")).0, 200);
    // Then the right one is booked, and the old one fails for its password
    let ids = ["p-old".to_string(), "p-new".to_string()];
    let done = ws.wait_final(&ids, Duration::from_secs(120));
    assert_eq!(done[1].1["status"], "completed", "{:?}", done[1]);
    assert_eq!(sandbox.lines_for("400", "p-new"), 1);
    assert_eq!(done[0].1["status"], "failed", "{:?}", done[0]);
    let reason = done[0].1["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("login failed"), "{reason}");
    assert_eq!(sandbox.lines_for("400", "p-old"), 0);
}
