//! The support console in real headless Chromium, offline: two workshops
//! under `serve`, one with failed orders (one whose evidence was pruned),
//! the other through an ERP outage. Every page (sign-in, integrations, a
//! workshop, an order, search, a stopped workshop, the "off" page) passes
//! axe-core's checks run inside the page and leaves no error in the
//! browser's console log; a failed attempt's screenshot renders. Each page is photographed into the
//! git-ignored `test-screenshots/`, or `$OILMAT_SCREENSHOTS_DIR`
//! (`scripts/screenshots` fills docs/screenshots/ for the README this way).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use thirtyfour::prelude::*;
use thirtyfour::LoggingPrefsLogLevel;

use oilmat_erp::erp::chromedriver::ChromeDriver;
use oilmat_testkit::*;

/// axe-core's script, installed from npm by `scripts/install-deps --for-tests`.
const AXE: &str = "target/axe/node_modules/axe-core/axe.min.js";

/// The viewport of the screenshots.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;

/// axe-core's script, if installed; under CI it must be.
fn axe_source() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(AXE);
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!(
                "{}: {e}; scripts/install-deps --for-tests installs it",
                path.display()
            )
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: the console's axe-core checks: {}: {e} (run scripts/install-deps --for-tests)",
                path.display()
            );
            None
        }
    }
}

/// Where the screenshots go.
fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("OILMAT_SCREENSHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium through its own chromedriver, with the browser's
/// console log kept.
struct Browser {
    rt: tokio::runtime::Runtime,
    driver: Option<WebDriver>,
    _chromedriver: ChromeDriver,
    _profile: tempfile::TempDir,
    axe: Option<String>,
    shots: PathBuf,
}

impl Browser {
    fn start() -> Browser {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let chromedriver = rt.block_on(ChromeDriver::start(None)).unwrap();
        let mut caps = DesiredCapabilities::chrome();
        for arg in [
            "--headless=new",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            &format!("--window-size={WIDTH},{HEIGHT}"),
            &format!("--user-data-dir={}", profile.path().display()),
        ] {
            caps.add_arg(arg).unwrap();
        }
        if oilmat_erp::platform::chromium_needs_no_sandbox() {
            caps.add_arg("--no-sandbox").unwrap();
        }
        caps.set_browser_log_level(LoggingPrefsLogLevel::All)
            .unwrap();
        let driver = rt
            .block_on(WebDriver::new(chromedriver.url(), caps))
            .unwrap();
        rt.block_on(driver.set_script_timeout(Duration::from_secs(60)))
            .unwrap();
        // The viewport (what a screenshot shows) WIDTH x HEIGHT, the window's own frame aside.
        let frame = rt
            .block_on(driver.execute("return window.outerHeight - window.innerHeight", Vec::new()))
            .unwrap()
            .json()
            .as_u64()
            .unwrap_or(0);
        rt.block_on(driver.set_window_rect(0, 0, WIDTH, HEIGHT + frame as u32))
            .unwrap();
        Browser {
            rt,
            driver: Some(driver),
            _chromedriver: chromedriver,
            _profile: profile,
            axe: axe_source(),
            shots: screenshot_dir(),
        }
    }

    fn driver(&self) -> &WebDriver {
        self.driver.as_ref().unwrap()
    }

    fn run<T>(&self, f: impl std::future::Future<Output = WebDriverResult<T>>) -> T {
        self.rt.block_on(f).unwrap()
    }

    fn open(&self, url: &str) {
        self.run(self.driver().goto(url));
    }

    fn url(&self) -> String {
        self.run(self.driver().current_url()).to_string()
    }

    fn script(&self, script: &str) -> Value {
        self.run(self.driver().execute(script, Vec::new()))
            .json()
            .clone()
    }

    /// Waits (with a deadline) until the page says `text`.
    fn wait_text(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self.script("return document.body ? document.body.innerText : ''");
            if body.as_str().is_some_and(|b| b.contains(text)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} not on {}: {body}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// axe-core's violations on the page, injected through WebDriver (the
    /// page's CSP allows no inline script, a driver's script is not one).
    fn axe_violations(&self) -> Option<Vec<Value>> {
        let axe = self.axe.as_ref()?;
        self.run(self.driver().execute(axe.as_str(), Vec::new()));
        let done = self.run(self.driver().execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { resultTypes: ["violations"] })
                 .then(r => done({ passed: r.passes.length, violations: r.violations.map(v => ({
                     id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.map(n => n.html + " :: " + n.failureSummary) })) }))
                 .catch(e => done({ passed: 0, violations: [{ id: "axe-error", help: String(e) }] }));"#,
            Vec::new(),
        ));
        let result = done.json();
        // axe-core really looked: some of its rules passed.
        assert!(result["passed"].as_u64().unwrap_or(0) > 0, "{result}");
        Some(result["violations"].as_array().cloned().unwrap_or_default())
    }

    /// The browser's console errors since the last call, less the page's
    /// own intended status (a 404 "not found" or the 503 "off" page).
    fn console_errors(&self, own_status: Option<u16>) -> Vec<String> {
        let url = self.url();
        self.run(self.driver().browser_log())
            .into_iter()
            .filter(|e| e.level == "SEVERE")
            .map(|e| e.message)
            .filter(|m| {
                own_status.is_none_or(|s| {
                    !(m.starts_with(&format!("{url} - ")) && m.contains(&format!("status of {s} ")))
                })
            })
            .collect()
    }

    /// Checks the open page (axe-core, the console log) and photographs it.
    fn check(&self, name: &str, own_status: Option<u16>) {
        let url = self.url();
        if let Some(violations) = self.axe_violations() {
            assert!(
                violations.is_empty(),
                "axe-core on {name} ({url}):\n{}",
                serde_json::to_string_pretty(&violations).unwrap()
            );
        }
        let errors = self.console_errors(own_status);
        assert!(
            errors.is_empty(),
            "console errors on {name} ({url}): {errors:#?}"
        );
        let png = self.run(self.driver().screenshot_as_png());
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            let _ = self.rt.block_on(driver.quit());
        }
    }
}

fn post_order(port: u16, id: &str, item: &str) {
    let body = json!({"workshop": "w", "case_id": "100", "product_nr": item, "product_amount": "2", "unique_id": id});
    let status = client()
        .post(format!("http://127.0.0.1:{port}/create"))
        .body(body.to_string())
        .send()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200, "{id}");
}

fn workshop_toml(name: &str, sandbox: &Sandbox, port: u16, extra: &str) -> String {
    format!(
        r#"
[workshops.{name}]
erp_type = "au2office"
erp_url = "{erp}"
port = {port}
listen = "127.0.0.1"
username = "{USER}"
password = "{PASSWORD}"
{extra}
"#,
        erp = sandbox.url()
    )
}

#[test]
fn every_console_page_passes_axe_and_logs_no_error() {
    let alpha_erp = Sandbox::start("au2office");
    let beta_erp = Sandbox::start("au2office");
    for sb in [&alpha_erp, &beta_erp] {
        sb.case("100", "open");
        sb.item("10");
    }
    let dir = tempfile::tempdir().unwrap();
    let (alpha, beta) = (free_port(), free_port());
    let config = dir.path().join("oilmat.toml");
    // alpha keeps the evidence of one failed attempt only (2 files), so an
    // older failure's is pruned; beta sees its ERP down and up again quickly.
    let alpha_toml = workshop_toml(
        "alpha",
        &alpha_erp,
        alpha,
        "[workshops.alpha.evidence]\nmax_files = 2\n",
    );
    let beta_toml = workshop_toml(
        "beta",
        &beta_erp,
        beta,
        "[workshops.beta.retry]\nbreaker_threshold = 1\ncheck_initial_ms = 300\ncheck_max_ms = 1000\ninitial_backoff_ms = 200\n",
    );
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"
[management]
listen = "127.0.0.1:0"
[console]
dashboard_url = "http://grafana.test/d/oilmat?var-workshop={{workshop}}"
trace_url = "http://traces.test/trace/{{trace_id}}"
{alpha_toml}{beta_toml}"#,
            data = dir.path().join("data").display(),
        ),
    )
    .unwrap();
    let proc = Proc::oilmat(
        &["serve", "--config", config.to_str().unwrap()],
        &[("RUST_LOG", TEST_LOG), ("OILMAT_ADMIN_TOKEN", TOKEN)],
        "console-a11y",
    );
    let host = HostUnderTest {
        proc,
        http: client(),
    };

    // alpha: two orders for unknown items fail for good; the second one's
    // evidence pushes the first one's out.
    post_order(alpha, "c-old", "998");
    wait_until("c-old failed", Duration::from_secs(120), || {
        order_status(alpha, "c-old")["status"] == "failed"
    });
    post_order(alpha, "c-bad", "999");
    post_order(alpha, "c-ok", "10");
    // beta: its ERP answers 503 while an order waits, then comes back.
    beta_erp.faults(json!({"down": "503"}));
    post_order(beta, "b-1", "10");
    wait_until("beta down", Duration::from_secs(120), || {
        host.integration("beta")["erp"]["state"] == "down"
    });
    beta_erp.faults(json!({"down": Value::Null}));
    wait_completed(beta, "b-1");
    wait_until("c-bad failed", Duration::from_secs(120), || {
        order_status(alpha, "c-bad")["status"] == "failed"
    });
    wait_completed(alpha, "c-ok");

    let browser = Browser::start();
    let base = format!("{}/console/", host.proc.url);

    // Sign-in, through the form.
    browser.open(&format!("{base}w/alpha"));
    browser.wait_text("Sign in");
    assert!(
        browser.url().ends_with("/console/signin"),
        "{}",
        browser.url()
    );
    browser.check("signin", None);
    let driver = browser.driver();
    let token = browser.run(driver.find(By::Css("input[name=token]")));
    browser.run(token.send_keys(TOKEN));
    let submit = browser.run(driver.find(By::Css("form.signin button[type=submit]")));
    browser.run(submit.click());
    browser.wait_text("Integrations");
    browser.check("integrations", None);
    let overview = browser.script("return document.querySelector('main').innerText");
    let overview = overview.as_str().unwrap();
    assert!(
        overview.contains("alpha") && overview.contains("beta"),
        "{overview}"
    );

    // A workshop with its orders; beta with its outage.
    browser.open(&format!("{base}w/alpha"));
    browser.wait_text("c-bad");
    browser.check("workshop", None);
    browser.open(&format!("{base}w/beta"));
    browser.wait_text("Outages");
    let outages = browser
        .script("return document.querySelector('table[aria-labelledby=outages]')?.innerText ?? ''");
    assert!(
        outages.as_str().unwrap().contains("the whole ERP"),
        "{outages}"
    );
    browser.check("workshop-outages", None);

    // The failed order with its screenshot rendered; the older one pruned.
    browser.open(&format!("{base}w/alpha/o/c-bad"));
    browser.wait_text("unknown item");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let width = browser.script(
            "const i = document.querySelector('img.evidence'); return i && i.complete ? i.naturalWidth : 0",
        );
        if width.as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the evidence screenshot renders");
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.check("order", None);
    browser.open(&format!("{base}w/alpha/o/c-old"));
    browser.wait_text("evidence pruned on ");
    browser.script("document.querySelector('main section').scrollIntoView(); return null");
    browser.check("order-pruned", None);

    // Search: found, to the order's page; not found, a page that says so.
    browser.open(&format!("{base}search?unique_id=c-ok"));
    browser.wait_text("line booked");
    assert!(
        browser.url().ends_with("/w/alpha/o/c-ok"),
        "{}",
        browser.url()
    );
    browser.open(&format!("{base}search?unique_id=nowhere"));
    browser.wait_text("No running workshop has an order");
    browser.check("search", Some(404));

    // A stopped integration: listed, its page says so, the admin starts it again.
    let r = client()
        .put(format!("http://127.0.0.1:{beta}/kill"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    wait_until("beta stopped", Duration::from_secs(30), || {
        let row = host.integration("beta");
        row["api"] == "stopped" && row["worker"] == "stopped"
    });
    browser.open(&format!("{base}w/beta"));
    browser.wait_text("its orders and outages show while it runs");
    browser.check("workshop-stopped", Some(503));
    browser.open(&base);
    browser.wait_text("not checked: not running");
    browser.check("integrations-stopped", None);
    let start = browser.run(
        browser
            .driver()
            .find(By::Css("button[aria-label='Start integration beta']")),
    );
    browser.run(start.click());
    wait_until("beta running again", Duration::from_secs(30), || {
        let row = host.integration("beta");
        row["api"] == "running" && row["worker"] == "running"
    });

    // The page every console path answers while no token is configured.
    let off_config = dir.path().join("off.toml");
    std::fs::write(
        &off_config,
        format!(
            "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("off-data").display()
        ),
    )
    .unwrap();
    let off = Proc::oilmat(
        &["serve", "--config", off_config.to_str().unwrap()],
        &[("RUST_LOG", TEST_LOG)],
        "console-a11y-off",
    );
    browser.open(&format!("{}/console/", off.url));
    browser.wait_text("The support console is off");
    browser.check("off", Some(503));
}
