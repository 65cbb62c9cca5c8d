//! For the driver tests: the sandbox ERP inside the test process (its own
//! thread and actix System) and a real browser session (spawned chromedriver
//! and headless Chromium) booking through the library's drivers.

use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oilmat_erp::erp::ErpType;
use oilmat_erp::erp::{book_line, Credentials, OrderLine, Result};
use oilmat_erp::erp::{BrowserConfig, BrowserSession, WebDriverEndpoint};
use oilmat_erp::order::Booked;
use oilmat_erp::sandbox::{self, SandboxKind, SandboxOptions};
use serde_json::{json, Value};

use crate::proc::{assert_no_process_mentions, process_exists};

/// The ERP login the in-process sandbox is seeded with (not ASCII, on purpose).
pub const DRIVER_USER: &str = "værksted";
/// Its password.
pub const DRIVER_PASSWORD: &str = "hemmelig";

/// A sandbox ERP on a free port, in its own thread and actix System.
pub struct InProcessSandbox {
    pub erp: ErpType,
    pub base: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl InProcessSandbox {
    /// Starts the sandbox and waits until it answers; seeds the test user.
    pub async fn start(erp: ErpType) -> InProcessSandbox {
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
        let sandbox = InProcessSandbox {
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
            .post(
                "users",
                json!({"username": DRIVER_USER, "password": DRIVER_PASSWORD}),
            )
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

impl Drop for InProcessSandbox {
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
pub struct DriverBench {
    pub sandbox: InProcessSandbox,
    pub browser: BrowserSession,
    pub step_timeout: Duration,
}

impl DriverBench {
    pub async fn start(erp: ErpType, step_timeout: Duration) -> DriverBench {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let sandbox = InProcessSandbox::start(erp).await;
        let mut config = BrowserConfig::new(WebDriverEndpoint::Spawn);
        config.step_timeout = step_timeout;
        DriverBench {
            sandbox,
            browser: BrowserSession::new(config),
            step_timeout,
        }
    }

    /// Books `order` with the test user's credentials.
    pub async fn book(&mut self, order: &OrderLine) -> Result<Booked> {
        self.book_as(order, DRIVER_PASSWORD).await
    }

    /// Books `order`, logging in with `password` if the ERP asks.
    pub async fn book_as(&mut self, order: &OrderLine, password: &str) -> Result<Booked> {
        let creds = Credentials {
            username: DRIVER_USER.into(),
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
pub fn order_line(unique_id: &str, case_id: &str, item_no: &str, amount: &str) -> OrderLine {
    OrderLine {
        unique_id: unique_id.into(),
        case_id: case_id.into(),
        item_no: item_no.into(),
        amount: amount.into(),
    }
}
