//! The browser session: the WebDriver endpoint (a chromedriver the service
//! starts and supervises itself, or any WebDriver URL such as a Selenium
//! Grid) and one reusable headless Chromium session per workshop.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use super::chromedriver::ChromeDriver;
use super::error::{describe, Failure, Result};

/// How long closing a session may take before it is abandoned.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Added to the longest browser-side timeout to get the HTTP request timeout.
const REQUEST_MARGIN: Duration = Duration::from_secs(10);

/// Chromium flags for a headless browser run as a service (see
/// shared/stack-notes.md).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
];

/// Where WebDriver commands go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WebDriverEndpoint {
    /// A chromedriver the service starts and supervises itself (`"spawn"`).
    #[default]
    Spawn,
    /// Any WebDriver server, e.g. a Selenium Grid (`"http://host:4444"`).
    Url(String),
}

impl FromStr for WebDriverEndpoint {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("spawn") {
            Ok(WebDriverEndpoint::Spawn)
        } else if s.starts_with("http://") || s.starts_with("https://") {
            Ok(WebDriverEndpoint::Url(s.trim_end_matches('/').to_string()))
        } else {
            Err(format!(
                "webdriver endpoint {s:?}: expected \"spawn\" or an http(s) URL"
            ))
        }
    }
}

impl fmt::Display for WebDriverEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebDriverEndpoint::Spawn => f.write_str("spawn"),
            WebDriverEndpoint::Url(url) => f.write_str(url),
        }
    }
}

/// How to get a browser.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    /// Where WebDriver commands go.
    pub endpoint: WebDriverEndpoint,
    /// Deadline of each driver step; default 20 s.
    pub step_timeout: Duration,
    /// Deadline of a page load; default 30 s.
    pub page_load_timeout: Duration,
    /// The Chromium binary; default `$OILMAT_CHROMIUM`, else
    /// `/usr/bin/chromium` if it exists (only for a spawned chromedriver:
    /// a remote endpoint knows its own browsers).
    pub chromium_binary: Option<PathBuf>,
    /// Where a spawned chromedriver's output is appended; default nowhere.
    pub chromedriver_log: Option<PathBuf>,
}

impl BrowserConfig {
    /// The defaults for `endpoint`.
    pub fn new(endpoint: WebDriverEndpoint) -> Self {
        let chromium_binary = match endpoint {
            WebDriverEndpoint::Spawn => default_chromium(),
            WebDriverEndpoint::Url(_) => None,
        };
        BrowserConfig {
            endpoint,
            step_timeout: Duration::from_secs(20),
            page_load_timeout: Duration::from_secs(30),
            chromium_binary,
            chromedriver_log: None,
        }
    }

    /// The HTTP timeout of one WebDriver command: long enough for the
    /// slowest browser-side timeout, short enough that a hung browser fails.
    pub fn request_timeout(&self) -> Duration {
        self.step_timeout.max(self.page_load_timeout) + REQUEST_MARGIN
    }
}

impl Default for BrowserConfig {
    fn default() -> Self {
        BrowserConfig::new(WebDriverEndpoint::Spawn)
    }
}

/// `$OILMAT_CHROMIUM`, else `/usr/bin/chromium` if it exists.
pub fn default_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OILMAT_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let debian = PathBuf::from("/usr/bin/chromium");
    debian.is_file().then_some(debian)
}

/// One WebDriver session, started lazily and reused across orders;
/// restarted after [`BrowserSession::reset`] or when chromedriver died.
#[derive(Debug)]
pub struct BrowserSession {
    config: BrowserConfig,
    chromedriver: Option<ChromeDriver>,
    webdriver: Option<WebDriver>,
    profile_dir: Option<PathBuf>,
    /// Browser restarts, counted here only (shared with whoever reads it).
    restarts: Arc<AtomicU64>,
}

impl BrowserSession {
    /// A session that starts its browser on first use.
    pub fn new(config: BrowserConfig) -> Self {
        BrowserSession::counted(config, Arc::default())
    }

    /// The same, counting its restarts into `counter` (the workshop's
    /// metric, which outlives any one session).
    pub fn counted(config: BrowserConfig, counter: Arc<AtomicU64>) -> Self {
        BrowserSession {
            config,
            chromedriver: None,
            webdriver: None,
            profile_dir: None,
            restarts: counter,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BrowserConfig {
        &self.config
    }

    /// The live WebDriver session, started (with chromedriver if spawned)
    /// when there is none or the spawned chromedriver has died.
    pub async fn driver(&mut self) -> Result<&WebDriver> {
        if self.webdriver.is_some() && !self.chromedriver_alive() {
            tracing::warn!("chromedriver died; restarting the browser");
            self.reset().await;
        }
        if self.webdriver.is_none() {
            self.start().await?;
        }
        self.webdriver
            .as_ref()
            .ok_or_else(|| Failure::webdriver("no browser session"))
    }

    /// Whether a session is open now.
    pub fn is_open(&self) -> bool {
        self.webdriver.is_some()
    }

    /// How many times the session was reset (restarted after breaking).
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The spawned chromedriver's pid, if one runs.
    pub fn chromedriver_pid(&self) -> Option<u32> {
        self.chromedriver.as_ref().map(ChromeDriver::pid)
    }

    /// The browser profile directory of the current session, if local.
    pub fn profile_dir(&self) -> Option<&Path> {
        self.profile_dir.as_deref()
    }

    /// Quits the session (within a deadline), kills a spawned chromedriver
    /// with its browsers, and deletes the profile directory.
    pub async fn close(&mut self) {
        if let Some(webdriver) = self.webdriver.take() {
            quit(webdriver).await;
        }
        if let Some(mut chromedriver) = self.chromedriver.take() {
            chromedriver.kill();
        }
        self.remove_profile();
    }

    /// Closes a broken session so that the next [`Self::driver`] starts a
    /// fresh one.
    pub async fn reset(&mut self) {
        let restarts = self.restarts.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(restarts, "resetting the browser session");
        self.close().await;
    }

    fn chromedriver_alive(&mut self) -> bool {
        match (&self.config.endpoint, self.chromedriver.as_mut()) {
            (WebDriverEndpoint::Url(_), _) => true,
            (WebDriverEndpoint::Spawn, Some(chromedriver)) => chromedriver.is_alive(),
            (WebDriverEndpoint::Spawn, None) => false,
        }
    }

    /// Starts chromedriver if needed and opens a new session.
    async fn start(&mut self) -> Result<()> {
        let started = Instant::now();
        let url = self.endpoint_url().await?;
        if self.config.endpoint == WebDriverEndpoint::Spawn {
            self.profile_dir = Some(make_profile_dir()?);
        }
        match connect(&self.config, &url, self.profile_dir.as_deref()).await {
            Ok(webdriver) => {
                self.webdriver = Some(webdriver);
                let ms = started.elapsed().as_millis() as u64;
                tracing::info!(ms, endpoint = %self.config.endpoint, "browser session started");
                Ok(())
            }
            Err(e) => {
                self.close().await;
                Err(e)
            }
        }
    }

    /// The WebDriver URL, spawning chromedriver when that is the endpoint.
    async fn endpoint_url(&mut self) -> Result<String> {
        if let WebDriverEndpoint::Url(url) = &self.config.endpoint {
            return Ok(url.clone());
        }
        if !self.chromedriver_alive() {
            self.chromedriver = None;
            let log = self.config.chromedriver_log.as_deref();
            self.chromedriver = Some(ChromeDriver::start(log).await?);
        }
        self.chromedriver
            .as_ref()
            .map(|c| c.url().to_string())
            .ok_or_else(|| Failure::webdriver("chromedriver not running"))
    }

    fn remove_profile(&mut self) {
        if let Some(dir) = self.profile_dir.take() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove browser profile");
            }
        }
    }
}

impl Drop for BrowserSession {
    fn drop(&mut self) {
        if let Some(webdriver) = self.webdriver.take() {
            tracing::warn!("browser session dropped without close()");
            // Never the blocking teardown in Drop; a spawned chromedriver's
            // group is killed right below.
            let _ = webdriver.leak();
        }
        self.chromedriver.take();
        self.remove_profile();
    }
}

/// A fresh, empty Chromium profile directory under the temp dir.
fn make_profile_dir() -> Result<PathBuf> {
    let name = format!(
        "oilmat-chromium-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::webdriver(format!("profile dir {}: {e}", dir.display())))?;
    Ok(dir)
}

/// The capabilities of a headless Chromium session.
fn capabilities(config: &BrowserConfig, profile: Option<&Path>) -> WebDriverResult<Capabilities> {
    let mut caps = DesiredCapabilities::chrome();
    for arg in CHROMIUM_ARGS {
        caps.add_arg(arg)?;
    }
    if crate::platform::chromium_needs_no_sandbox() {
        caps.add_arg("--no-sandbox")?;
    }
    if let Some(dir) = profile {
        caps.add_arg(&format!("--user-data-dir={}", dir.display()))?;
    }
    if let Some(binary) = &config.chromium_binary {
        caps.set_binary(&binary.to_string_lossy())?;
    }
    // Leave native alerts open for the driver to read (admanager).
    caps.set("unhandledPromptBehavior", "ignore")?;
    Ok(caps.into())
}

/// Opens a session at `url` with the configured timeouts.
async fn connect(config: &BrowserConfig, url: &str, profile: Option<&Path>) -> Result<WebDriver> {
    let caps = capabilities(config, profile).map_err(|e| Failure::webdriver(describe(&e)))?;
    let webdriver = WebDriver::builder(url, caps)
        .request_timeout(config.request_timeout())
        .await?;
    let timeouts = TimeoutConfiguration::new(
        Some(config.step_timeout),
        Some(config.page_load_timeout),
        Some(Duration::ZERO),
    );
    if let Err(e) = webdriver.update_timeouts(timeouts).await {
        quit(webdriver).await;
        return Err(e.into());
    }
    Ok(webdriver)
}

/// Quits a session within [`QUIT_TIMEOUT`], never blocking in `Drop`.
async fn quit(webdriver: WebDriver) {
    // Leaks the session if this future is dropped mid-quit (a task aborted):
    // never thirtyfour's blocking teardown, which warns.
    struct LeakOnDrop(WebDriver);
    impl Drop for LeakOnDrop {
        fn drop(&mut self) {
            // Already quit: no-op. Otherwise: skip the synchronous teardown in Drop.
            let _ = self.0.clone().leak();
        }
    }
    let guard = LeakOnDrop(webdriver);
    match tokio::time::timeout(QUIT_TIMEOUT, guard.0.clone().quit()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %describe(&e), "browser quit failed"),
        Err(_) => tracing::warn!("browser quit timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time check: the workers may run these on any thread.
    #[allow(dead_code)]
    fn futures_are_send(session: &mut BrowserSession) {
        fn send<T: Send>(_: T) {}
        send(session.driver());
    }

    #[test]
    fn endpoints_parse() {
        assert_eq!("spawn".parse(), Ok(WebDriverEndpoint::Spawn));
        assert_eq!(
            "http://grid:4444/".parse(),
            Ok(WebDriverEndpoint::Url("http://grid:4444".into()))
        );
        assert!("grid:4444".parse::<WebDriverEndpoint>().is_err());
    }

    #[test]
    fn request_timeout_covers_the_slowest_step() {
        let config = BrowserConfig::new(WebDriverEndpoint::Url("http://x".into()));
        assert_eq!(config.request_timeout(), Duration::from_secs(40));
        assert_eq!(config.chromium_binary, None);
    }
}
