//! A workshop process of the real binary, its HTTP API, and the support commands.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::proc::{bin, client, Proc};
use crate::sandbox::Sandbox;
use crate::{PASSWORD, USER};

/// The log filter of the workshops and hosts tests start: our debug lines.
pub const TEST_LOG: &str = "info,oilmat_erp=debug,thirtyfour=warn,fjall=warn,lsm_tree=warn";

/// Fast retries for tests: the defaults (1 s doubling) would only slow them.
pub const FAST: &[&str] = &[
    "--max-attempts",
    "8",
    "--initial-backoff-ms",
    "200",
    "--max-backoff-ms",
    "1000",
    "--step-timeout-secs",
    "10",
    // An unconfirmed save (a session that expired after the save click, a
    // save that never confirms) is looked at again after this long.
    "--settle-secs",
    "5",
];

/// `oilmat-erp workshop 0 NAME ERP` against a sandbox, and its data dir.
pub struct Workshop {
    pub proc: Proc,
    pub name: String,
    pub data_dir: PathBuf,
    pub http: reqwest::blocking::Client,
}

impl Workshop {
    /// Starts the workshop with `extra` flags, logging at [`TEST_LOG`].
    pub fn start(
        name: &str,
        erp: &str,
        sandbox: &Sandbox,
        data_dir: &Path,
        extra: &[&str],
    ) -> Workshop {
        Workshop::start_env(name, erp, sandbox, data_dir, extra, &[])
    }

    /// [`Workshop::start`] with extra environment variables (they win over
    /// [`TEST_LOG`]).
    pub fn start_env(
        name: &str,
        erp: &str,
        sandbox: &Sandbox,
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Workshop {
        let dir = data_dir.to_str().expect("utf-8 data dir");
        let mut args = vec![
            "workshop",
            "0",
            name,
            erp,
            "--erp-url",
            sandbox.url(),
            "--data-dir",
            dir,
            "--host",
            "127.0.0.1",
        ];
        args.extend_from_slice(extra);
        let mut all_env = vec![("RUST_LOG", TEST_LOG)];
        all_env.extend_from_slice(env);
        let mut proc = Proc::oilmat(&args, &all_env, &format!("workshop-{name}"));
        proc.pidfile = Some(data_dir.join(name).join("chromedriver.pid"));
        Workshop {
            proc,
            name: name.into(),
            data_dir: data_dir.to_path_buf(),
            http: client(),
        }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.proc.url
    }

    /// POST /create with a JSON object body; (HTTP status, JSON answer).
    pub fn create(&self, order: &Value) -> (u16, Value) {
        self.create_raw(order.to_string())
    }

    /// POST /create with extra headers (a `traceparent`, say).
    pub fn create_with(&self, order: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/create", self.url()))
            .body(order.to_string());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        answer(request)
    }

    /// POST /create with any body.
    pub fn create_raw(&self, body: String) -> (u16, Value) {
        answer(self.http.post(format!("{}/create", self.url())).body(body))
    }

    /// GET /check_order_status.
    pub fn status(&self, unique_id: &str) -> (u16, Value) {
        answer(
            self.http
                .get(format!("{}/check_order_status", self.url()))
                .query(&[("unique_id", unique_id)]),
        )
    }

    /// GET a JSON page.
    pub fn get(&self, path: &str) -> (u16, Value) {
        answer(self.http.get(format!("{}{path}", self.url())))
    }

    /// PUT a path without a body.
    pub fn put(&self, path: &str) -> (u16, Value) {
        answer(self.http.put(format!("{}{path}", self.url())))
    }

    /// GET a text page (such as /metrics).
    pub fn get_text(&self, path: &str) -> String {
        let r = self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .expect("GET");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.text().expect("text")
    }

    /// PUT /kill, then waits for the process to exit.
    pub fn kill_and_wait(&mut self) {
        assert_eq!(self.put("/kill").0, 200);
        let exit = self.proc.wait_exit(Duration::from_secs(10));
        assert!(exit.is_some(), "no exit after /kill:\n{}", self.proc.log());
    }

    /// Waits until every order has a final status; their statuses.
    pub fn wait_final(&self, ids: &[String], within: Duration) -> Vec<(String, Value)> {
        let deadline = Instant::now() + within;
        loop {
            let all: Vec<(String, Value)> = ids
                .iter()
                .map(|id| (id.clone(), self.status(id).1))
                .collect();
            let done = all.iter().all(|(_, v)| {
                matches!(
                    v["status"].as_str(),
                    Some("completed" | "failed" | "bad request")
                )
            });
            if done {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "orders not final in time: {all:?}\n{}",
                self.proc.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `oilmat-erp ARGS --data-dir DIR` (a support command); its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(args, &self.data_dir)
    }

    /// `oilmat-erp events WORKSHOP --json` for one order (works on a live log).
    pub fn events(&self, unique_id: &str) -> Vec<Value> {
        self.cli(&["events", &self.name, "--json", "--unique-id", unique_id])
            .lines()
            .map(|l| serde_json::from_str(l).expect("event json"))
            .collect()
    }
}

/// Sends a request; (HTTP status, JSON answer or null).
fn answer(request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
    let r = request.send().expect("request");
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

/// An order as OilMat sends it.
pub fn order(unique_id: &str, case_id: &str, item: &str, amount: &str) -> Value {
    json!({"workshop": "w", "case_id": case_id, "product_nr": item, "product_amount": amount,
           "unique_id": unique_id, "username": USER, "password": PASSWORD})
}

/// [`order`] as the body text.
pub fn order_json(unique_id: &str, case_id: &str, item: &str, amount: &str) -> String {
    order(unique_id, case_id, item, amount).to_string()
}

/// Runs `oilmat-erp ARGS --data-dir DIR` (a support command) and expects success; its stdout.
pub fn cli(args: &[&str], data_dir: &Path) -> String {
    let out = Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run oilmat-erp");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
