//! The integration host under test: `oilmat-erp serve` and its workshops' ports.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

pub const TOKEN: &str = "test-admin-token-31337";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct HostUnderTest {
    pub proc: Proc,
    pub http: reqwest::blocking::Client,
}

impl HostUnderTest {
    pub fn start(config: &Path) -> HostUnderTest {
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
        let r = req.send().unwrap();
        let code = r.status().as_u16();
        let text = r.text().unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(TOKEN), None)
    }

    pub fn put(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(TOKEN), body)
    }

    pub fn integration(&self, name: &str) -> Value {
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

pub fn post_order(port: u16, id: &str, case: &str) -> (u16, Value) {
    // Under serve the integration's own login wins: the order needs none.
    let body = json!({"workshop": "w", "case_id": case, "product_nr": "10", "product_amount": "1,5", "unique_id": id});
    let r = client()
        .post(format!("http://127.0.0.1:{port}/create"))
        .body(body.to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

pub fn order_status(port: u16, id: &str) -> Value {
    client()
        .get(format!(
            "http://127.0.0.1:{port}/check_order_status?unique_id={id}"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap_or(Value::Null)
}

pub fn wait_completed(port: u16, id: &str) {
    wait_until(&format!("{id} completed"), Duration::from_secs(120), || {
        order_status(port, id)["status"] == "completed"
    });
}
