//! Shared helpers of the ERP driver tests: an in-process sandbox ERP, its
//! control API, and a real headless browser session.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oilmat_erp::erp::ErpType;
use oilmat_erp::erp::{book_line, Credentials, OrderLine, Result};
use oilmat_erp::erp::{BrowserConfig, BrowserSession, WebDriverEndpoint};
use oilmat_erp::order::Booked;
use oilmat_erp::sandbox::{self, SandboxKind, SandboxOptions};
use serde_json::{json, Value};

pub const USER: &str = "værksted";
pub const PASSWORD: &str = "hemmelig";

/// A sandbox ERP on a free port, in its own thread and actix System.
pub struct Sandbox {
    pub erp: ErpType,
    pub base: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts the sandbox and waits until it answers; seeds the test user.
    pub async fn start(erp: ErpType) -> Sandbox {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let shutdown = async {
                let _ = stopped.await;
            };
            let kind: SandboxKind = erp.as_str().parse().expect("a type the sandbox serves");
            let run = sandbox::run(SandboxOptions::new(kind), listener, shutdown);
            actix_rt::System::new().block_on(run).expect("sandbox ran");
        });
        let sandbox = Sandbox {
            erp,
            base,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            stop: Some(stop),
            thread: Some(thread),
        };
        sandbox.wait_healthy().await;
        sandbox
            .post("users", json!({"username": USER, "password": PASSWORD}))
            .await;
        sandbox
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let url = format!("{}/_sandbox/health", self.base);
            if let Ok(r) = self.http.get(url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("sandbox not healthy");
    }

    /// `POST /_sandbox/{what}` with `body`, expecting success.
    pub async fn post(&self, what: &str, body: Value) -> Value {
        let url = format!("{}/_sandbox/{what}", self.base);
        let response = self.http.post(url).json(&body).send().await.expect("post");
        assert!(
            response.status().is_success(),
            "{what} {body}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    pub async fn case(&self, case_id: &str, status: &str) {
        self.post("cases", json!({"case_id": case_id, "status": status}))
            .await;
    }

    pub async fn item(&self, item_no: &str, name: &str) {
        self.post("items", json!({"item_no": item_no, "name": name}))
            .await;
    }

    pub async fn faults(&self, faults: Value) {
        self.post("faults", faults).await;
    }

    /// The lines on a case as `(item_no, qty, reference)`.
    pub async fn lines(&self, case_id: &str) -> Vec<(String, f64, String)> {
        let url = format!("{}/_sandbox/cases/{case_id}/lines", self.base);
        let lines: Vec<Value> = self
            .http
            .get(url)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        lines
            .iter()
            .map(|l| {
                (
                    l["item_no"].as_str().expect("item_no").to_string(),
                    l["qty"].as_f64().expect("qty"),
                    l["reference"].as_str().expect("reference").to_string(),
                )
            })
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A sandbox plus a real browser (spawned chromedriver + headless Chromium).
pub struct Bench {
    pub sandbox: Sandbox,
    pub browser: BrowserSession,
    pub step_timeout: Duration,
}

impl Bench {
    pub async fn start(erp: ErpType, step_timeout: Duration) -> Bench {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let sandbox = Sandbox::start(erp).await;
        let mut config = BrowserConfig::new(WebDriverEndpoint::Spawn);
        config.step_timeout = step_timeout;
        Bench {
            sandbox,
            browser: BrowserSession::new(config),
            step_timeout,
        }
    }

    /// Books `order` with the test user's credentials.
    pub async fn book(&mut self, order: &OrderLine) -> Result<Booked> {
        self.book_as(order, PASSWORD).await
    }

    /// Books `order`, logging in with `password` if the ERP asks.
    pub async fn book_as(&mut self, order: &OrderLine, password: &str) -> Result<Booked> {
        let creds = Credentials {
            username: USER.into(),
            password: password.into(),
        };
        let started = Instant::now();
        let driver = self.browser.driver().await?;
        let result = book_line(
            self.sandbox.erp,
            driver,
            &self.sandbox.base,
            order,
            &creds,
            self.step_timeout,
        )
        .await;
        eprintln!(
            "book {} -> {result:?} in {:?} (chromedriver {:?}, restarts {})",
            order.unique_id,
            started.elapsed(),
            self.browser.chromedriver_pid(),
            self.browser.restarts()
        );
        result
    }

    /// Closes the browser and checks that chromedriver and every Chromium
    /// it started are gone.
    pub async fn close(mut self) {
        let pid = self.browser.chromedriver_pid().expect("chromedriver ran");
        let profile = self
            .browser
            .profile_dir()
            .expect("profile dir")
            .to_path_buf();
        self.browser.close().await;
        assert!(!process_exists(pid), "chromedriver {pid} survived close()");
        assert!(!profile.exists(), "profile dir left behind");
        assert_no_process_mentions(&profile);
    }
}

/// An order line for the tests.
pub fn order(unique_id: &str, case_id: &str, item_no: &str, amount: &str) -> OrderLine {
    OrderLine {
        unique_id: unique_id.into(),
        case_id: case_id.into(),
        item_no: item_no.into(),
        amount: amount.into(),
    }
}

/// SIGKILLs a process group, as a crash of chromedriver and its browser.
pub fn kill_group(pgid: u32) {
    let pgid = libc::pid_t::try_from(pgid).expect("pid");
    // SAFETY: only sends a signal.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGKILL) }, 0);
}

/// Waits until the process has exited (a zombie or gone), as SIGKILL takes
/// effect asynchronously.
pub fn wait_until_dead(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.trim_start().chars().next());
        if matches!(state, None | Some('Z') | Some('X')) {
            return;
        }
        assert!(Instant::now() < deadline, "process {pid} did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a process with this pid exists (zombies included).
pub fn process_exists(pid: u32) -> bool {
    let pid = libc::pid_t::try_from(pid).expect("pid");
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Fails if, after a short grace for the kernel to finish SIGKILLed
/// processes, a process still has `dir` on its command line (a Chromium that
/// outlived its chromedriver).
pub fn assert_no_process_mentions(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let survivors = processes_mentioning(dir);
        if survivors.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes survived: {survivors:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then_some(cmdline)
        })
        .collect()
}
