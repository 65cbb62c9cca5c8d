//! The integration host under test: `oilmat-erp serve` and its workshops' ports.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::proc::{client, wait_until, Proc};
use crate::workshop::TEST_LOG;

/// The admin token the host is started with.
pub const TOKEN: &str = "test-admin-token-31337";

/// `oilmat-erp serve --config FILE` with [`TOKEN`].
pub struct HostUnderTest {
    pub proc: Proc,
    pub http: reqwest::blocking::Client,
}

impl HostUnderTest {
    /// Starts the host and waits until its management API listens.
    pub fn start(config: &Path) -> HostUnderTest {
        let config = config.to_str().expect("utf-8 config path");
        let proc = Proc::oilmat(
            &["serve", "--config", config],
            &[("RUST_LOG", TEST_LOG), ("OILMAT_ADMIN_TOKEN", TOKEN)],
            "host",
        );
        HostUnderTest {
            proc,
            http: client(),
        }
    }

    /// A management API call; (HTTP status, JSON answer or the text).
    pub fn call(
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
        let r = req.send().expect("management request");
        let code = r.status().as_u16();
        let text = r.text().expect("answer text");
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GET with the token.
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(TOKEN), None)
    }

    /// PUT with the token.
    pub fn put(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(TOKEN), body)
    }

    /// One integration from `GET /integrations` (null if absent).
    pub fn integration(&self, name: &str) -> Value {
        let (code, all) = self.get("/integrations");
        assert_eq!(code, 200);
        all.as_array()
            .expect("integrations array")
            .iter()
            .find(|i| i["workshop"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// POST /create to a workshop port of the host (item 10, 1,5 litres).
pub fn post_order(port: u16, id: &str, case: &str) -> (u16, Value) {
    // Under serve the integration's own login wins: the order needs none.
    let body = json!({"workshop": "w", "case_id": case, "product_nr": "10", "product_amount": "1,5", "unique_id": id});
    let r = client()
        .post(format!("http://127.0.0.1:{port}/create"))
        .body(body.to_string())
        .send()
        .expect("create");
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

/// GET /check_order_status on a workshop port (null if no JSON).
pub fn order_status(port: u16, id: &str) -> Value {
    client()
        .get(format!("http://127.0.0.1:{port}/check_order_status"))
        .query(&[("unique_id", id)])
        .send()
        .expect("status")
        .json()
        .unwrap_or(Value::Null)
}

/// Waits (up to 2 minutes) until the order is completed.
pub fn wait_completed(port: u16, id: &str) {
    wait_until(&format!("{id} completed"), Duration::from_secs(120), || {
        order_status(port, id)["status"] == "completed"
    });
}
