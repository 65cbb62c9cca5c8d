//! Shared helpers: start the real binary as a sandbox ERP or a workshop on
//! port 0 with a fresh data dir, talk to it over real HTTP, wait for
//! conditions with deadlines (never fixed sleeps).

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
    /// Starts `oilmat-erp ARGS` and waits for its "listening on URL" line.
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
                        break line[at + 13..].trim().replace("0.0.0.0", "127.0.0.1");
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

    /// kill -9, as a crash would.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first: a clean stop closes the browsers it started.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.wait_exit(Duration::from_secs(10));
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pidfile) = &self.pidfile {
            kill_recorded_chromedriver(pidfile);
        }
    }
}

/// Kills the chromedriver group a killed workshop left behind (its pid file).
pub fn kill_recorded_chromedriver(pidfile: &Path) {
    if let Some(pid) = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

pub struct Sandbox {
    pub proc: Proc,
    pub http: reqwest::blocking::Client,
}

impl Sandbox {
    pub fn start(erp: &str) -> Sandbox {
        let proc = Proc::start(
            &["sandbox", erp, "--port", "0"],
            &format!("sandbox-{erp}"),
            &[],
        );
        let sandbox = Sandbox {
            proc,
            http: client(),
        };
        sandbox.post("users", json!({"username": USER, "password": PASSWORD}));
        sandbox
    }

    pub fn url(&self) -> &str {
        &self.proc.url
    }

    pub fn post(&self, what: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}/_sandbox/{what}", self.url()))
            .json(&body)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "sandbox {what}: {}", r.status());
    }

    pub fn case(&self, case_id: &str, status: &str) {
        self.post("cases", json!({"case_id": case_id, "status": status}));
    }

    pub fn item(&self, item_no: &str) {
        self.post(
            "items",
            json!({"item_no": item_no, "name": format!("Olie {item_no}")}),
        );
    }

    pub fn faults(&self, faults: Value) {
        self.post("faults", faults);
    }

    /// The lines on a case, as the sandbox stores them.
    pub fn lines(&self, case_id: &str) -> Vec<Value> {
        let r = self
            .http
            .get(format!("{}/_sandbox/cases/{case_id}/lines", self.url()))
            .send()
            .unwrap();
        r.json::<Vec<Value>>().unwrap()
    }

    /// How many lines on the case carry the order's reference.
    pub fn lines_for(&self, case_id: &str, unique_id: &str) -> usize {
        let reference = format!("OilMat {unique_id}");
        self.lines(case_id)
            .iter()
            .filter(|l| l["reference"] == reference.as_str())
            .count()
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A workshop process of the real binary and its data dir.
pub struct Workshop {
    pub proc: Proc,
    pub name: String,
    pub data_dir: PathBuf,
    pub http: reqwest::blocking::Client,
}

/// Fast retries for tests: the defaults (2 s doubling up to 5 min) would only slow them.
pub const FAST: &[&str] = &[
    "--max-attempts",
    "8",
    "--initial-backoff-ms",
    "200",
    "--max-backoff-ms",
    "1000",
    "--step-timeout-secs",
    "10",
];

impl Workshop {
    pub fn start(
        name: &str,
        erp: &str,
        sandbox: &Sandbox,
        data_dir: &Path,
        extra: &[&str],
    ) -> Workshop {
        Workshop::start_env(name, erp, sandbox, data_dir, extra, &[])
    }

    /// [`Workshop::start`] with extra environment variables.
    pub fn start_env(
        name: &str,
        erp: &str,
        sandbox: &Sandbox,
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Workshop {
        let dir = data_dir.to_str().unwrap();
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
        let mut proc = Proc::start(&args, &format!("workshop-{name}"), env);
        proc.pidfile = Some(data_dir.join(name).join("chromedriver.pid"));
        Workshop {
            proc,
            name: name.into(),
            data_dir: data_dir.to_path_buf(),
            http: client(),
        }
    }

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
        let r = request.send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// GET a text page (such as /metrics).
    pub fn get_text(&self, path: &str) -> String {
        let r = self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.text().unwrap()
    }

    /// PUT /kill, then waits for the process to exit.
    pub fn kill_and_wait(&mut self) {
        assert_eq!(self.put("/kill").0, 200);
        let exit = self.proc.wait_exit(Duration::from_secs(10));
        assert!(exit.is_some(), "no exit after /kill:\n{}", self.proc.log());
    }

    pub fn create_raw(&self, body: String) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/create", self.url()))
            .body(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    pub fn status(&self, unique_id: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/check_order_status", self.url()))
            .query(&[("unique_id", unique_id)])
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    pub fn put(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .put(format!("{}{path}", self.url()))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
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

/// An au2office sandbox with the user, case 558 and item 10.
pub fn seeded_sandbox() -> Sandbox {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("558", "open");
    sandbox.item("10");
    sandbox
}

/// Runs `oilmat-erp ARGS --data-dir DIR` (a support command) and expects success; its stdout.
pub fn cli(args: &[&str], data_dir: &Path) -> String {
    let out = Command::new(BIN)
        .args(args)
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
