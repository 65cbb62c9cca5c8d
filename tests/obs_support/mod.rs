//! What the observability tests share: start the real binary (sandbox ERP,
//! workshop) on port 0 and talk to it over HTTP, waiting with deadlines,
//! never fixed sleeps. A trimmed copy of `tests/e2e/helpers.rs`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_oilmat-erp");
pub const USER: &str = "ilx";
pub const PASSWORD: &str = "S3cret-pw-4711";

/// A running process of the real binary; killed (with its chromedriver) on drop.
pub struct Proc {
    pub child: Child,
    pub url: String,
    pub stderr_log: PathBuf,
    pidfile: Option<PathBuf>,
}

impl Proc {
    /// Starts `oilmat-erp ARGS` with `env` and waits for its "listening on URL" line.
    pub fn start(args: &[&str], log_name: &str, env: &[(&str, &str)]) -> Proc {
        let logs = std::env::temp_dir().join("oilmat-test-logs");
        std::fs::create_dir_all(&logs).unwrap();
        static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr_log = logs.join(format!("{log_name}-{}-{serial}.log", std::process::id()));
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log).unwrap())
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env(
                "RUST_LOG",
                "info,oilmat_erp=debug,thirtyfour=warn,fjall=warn,lsm_tree=warn",
            );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start oilmat-erp");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let url = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(at) = line.find("listening on ") {
                        break line[at + 13..].trim().to_string();
                    }
                }
                Err(_) => panic!(
                    "{args:?} did not start: {}",
                    std::fs::read_to_string(&stderr_log).unwrap_or_default()
                ),
            }
        };
        Proc {
            child,
            url,
            stderr_log,
            pidfile: None,
        }
    }

    /// Waits until the process exits; its exit status.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let pid = self.pidfile.as_ref().and_then(|f| {
            std::fs::read_to_string(f)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
        });
        if let Some(pid) = pid.filter(|p| *p > 1) {
            // The chromedriver group the workshop started and recorded.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A sandbox au2office with the test user, `cases` open and `items` known.
pub struct Sandbox {
    pub proc: Proc,
    pub http: reqwest::blocking::Client,
}

impl Sandbox {
    pub fn start(cases: &[&str], items: &[&str]) -> Sandbox {
        let proc = Proc::start(&["sandbox", "au2office", "--port", "0"], "obs-sandbox", &[]);
        let sandbox = Sandbox {
            proc,
            http: client(),
        };
        sandbox.post("users", json!({"username": USER, "password": PASSWORD}));
        for case in cases {
            sandbox.post("cases", json!({"case_id": case, "status": "open"}));
        }
        for item in items {
            sandbox.post(
                "items",
                json!({"item_no": item, "name": format!("Olie {item}")}),
            );
        }
        sandbox
    }

    pub fn post(&self, what: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}/_sandbox/{what}", self.proc.url))
            .json(&body)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "sandbox {what}: {}", r.status());
    }
}

/// A workshop of the real binary on the sandbox, with its data dir.
pub struct Workshop {
    pub proc: Proc,
    pub name: String,
    pub data_dir: PathBuf,
    pub http: reqwest::blocking::Client,
}

impl Workshop {
    pub fn start(name: &str, sandbox: &Sandbox, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let args = [
            "workshop",
            "0",
            name,
            "au2office",
            "--erp-url",
            &sandbox.proc.url,
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--initial-backoff-ms",
            "200",
            "--max-backoff-ms",
            "1000",
            "--step-timeout-secs",
            "10",
        ];
        let mut proc = Proc::start(&args, &format!("obs-workshop-{name}"), env);
        proc.pidfile = Some(data_dir.join(name).join("chromedriver.pid"));
        Workshop {
            proc,
            name: name.into(),
            data_dir: data_dir.to_path_buf(),
            http: client(),
        }
    }

    /// POST /create with extra headers; (HTTP status, JSON answer).
    pub fn create(&self, order: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/create", self.proc.url))
            .body(order.to_string());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let r = request.send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    pub fn status(&self, unique_id: &str) -> Value {
        self.http
            .get(format!("{}/check_order_status", self.proc.url))
            .query(&[("unique_id", unique_id)])
            .send()
            .unwrap()
            .json()
            .unwrap_or(Value::Null)
    }

    /// GET a text page (such as /metrics).
    pub fn get_text(&self, path: &str) -> String {
        let r = self
            .http
            .get(format!("{}{path}", self.proc.url))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.text().unwrap()
    }

    /// PUT /kill, then waits for the process to exit.
    pub fn kill_and_wait(&mut self) {
        let r = self
            .http
            .put(format!("{}/kill", self.proc.url))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let exit = self.proc.wait_exit(Duration::from_secs(10));
        assert!(exit.is_some(), "no exit after /kill:\n{}", self.proc.log());
    }

    /// Waits until every order has a final status; their statuses.
    pub fn wait_final(&self, ids: &[&str], within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let all: Vec<Value> = ids.iter().map(|id| self.status(id)).collect();
            let done = all.iter().all(|v| {
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

    /// `oilmat-erp events NAME --json --unique-id ID` (works on a live log).
    pub fn events(&self, unique_id: &str) -> Vec<Value> {
        let out = Command::new(BIN)
            .args(["events", &self.name, "--json", "--unique-id", unique_id])
            .args(["--data-dir", self.data_dir.to_str().unwrap()])
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "events: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// An order as OilMat sends it.
pub fn order(unique_id: &str, case_id: &str, item: &str, amount: &str) -> Value {
    json!({"workshop": "w", "case_id": case_id, "product_nr": item, "product_amount": amount,
           "unique_id": unique_id, "username": USER, "password": PASSWORD})
}

/// Polls `cond` until it holds or the deadline passes.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
