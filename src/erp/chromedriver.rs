//! The chromedriver the service starts and supervises itself: its own
//! process group (a job object on Windows), so that no Chromium child
//! outlives it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::error::{Failure, Result};
use crate::platform::{self, ProcessGroup};

/// How long a spawned chromedriver may take to answer `GET /status` ready.
const CHROMEDRIVER_READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How often readiness is polled.
const READY_POLL: Duration = Duration::from_millis(50);

/// A chromedriver process in its own process group; dropping or killing it
/// kills the whole group, so no Chromium child outlives it.
#[derive(Debug)]
pub struct ChromeDriver {
    child: Child,
    group: ProcessGroup,
    url: String,
    reaped: bool,
    group_killed: bool,
}

impl ChromeDriver {
    /// The chromedriver binary: `$OILMAT_CHROMEDRIVER`, else
    /// `./chromedriver/chromedriver`, else `chromedriver` on `PATH`, else
    /// `/usr/bin/chromedriver` (with `.exe` on Windows).
    pub fn locate() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("OILMAT_CHROMEDRIVER") {
            return Some(PathBuf::from(path));
        }
        let file = format!("chromedriver{}", std::env::consts::EXE_SUFFIX);
        let local = PathBuf::from("./chromedriver").join(&file);
        if local.is_file() {
            return Some(local);
        }
        let on_path = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(&file))
                .find(|candidate| candidate.is_file())
        });
        let fallback = PathBuf::from("/usr/bin/chromedriver");
        on_path.or_else(|| fallback.is_file().then_some(fallback))
    }

    /// Starts chromedriver on a free loopback port, its output going to
    /// `log` (appended) or nowhere, and waits until it reports ready.
    pub async fn start(log: Option<&Path>) -> Result<Self> {
        let binary = Self::locate().ok_or_else(|| {
            Failure::webdriver("chromedriver not found (set OILMAT_CHROMEDRIVER)")
        })?;
        let port = free_port()?;
        let (stdout, stderr) = output_to(log)?;
        let mut command = Command::new(&binary);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        // chromedriver and Chromium get none of the service's secrets.
        for name in secret_env_names() {
            command.env_remove(name);
        }
        let (child, group) = platform::spawn_in_own_group(&mut command)
            .map_err(|e| Failure::webdriver(format!("cannot start {}: {e}", binary.display())))?;
        let mut chromedriver = ChromeDriver {
            child,
            group,
            url: format!("http://127.0.0.1:{port}"),
            reaped: false,
            group_killed: false,
        };
        chromedriver.wait_ready(CHROMEDRIVER_READY_TIMEOUT).await?;
        tracing::info!(pid = chromedriver.pid(), url = %chromedriver.url, "chromedriver started");
        Ok(chromedriver)
    }

    /// Polls `GET /status` until chromedriver says it is ready.
    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| Failure::webdriver(format!("http client: {e}")))?;
        let status_url = format!("{}/status", self.url);
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_alive() {
                return Err(Failure::webdriver("chromedriver exited while starting"));
            }
            if is_ready(&client, &status_url).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(Failure::webdriver("chromedriver not ready in time"));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// The WebDriver URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id (also its process group id on Unix).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the chromedriver process is still running.
    pub fn is_alive(&mut self) -> bool {
        if self.reaped {
            return false;
        }
        match self.child.try_wait() {
            Ok(None) => true,
            Ok(Some(_)) | Err(_) => {
                self.reaped = true;
                false
            }
        }
    }

    /// Kills the whole process group (chromedriver and every Chromium it
    /// started) and reaps chromedriver.
    pub fn kill(&mut self) {
        if !self.group_killed {
            self.group_killed = true;
            self.group.kill();
        }
        if !self.reaped {
            self.reaped = true;
            if let Err(e) = self.child.wait() {
                tracing::warn!(error = %e, "cannot reap chromedriver");
            }
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port, found by binding port 0 and letting it go.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| Failure::webdriver(format!("no free port: {e}")))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| Failure::webdriver(format!("no free port: {e}")))
}

/// Where chromedriver's stdout and stderr go: the log file or nowhere.
fn output_to(log: Option<&Path>) -> Result<(Stdio, Stdio)> {
    let Some(path) = log else {
        return Ok((Stdio::null(), Stdio::null()));
    };
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Failure::webdriver(format!("chromedriver log {}: {e}", path.display())))
    };
    Ok((Stdio::from(open()?), Stdio::from(open()?)))
}

async fn is_ready(client: &reqwest::Client, status_url: &str) -> bool {
    let Ok(response) = client.get(status_url).send().await else {
        return false;
    };
    match response.json::<serde_json::Value>().await {
        Ok(body) => body["value"]["ready"] == serde_json::Value::Bool(true),
        Err(_) => false,
    }
}
/// The environment variables that may hold a secret (the service's own
/// `OILMAT_*`, and any `*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*API_KEY*`).
fn secret_env_names() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| is_secret_name(&name.to_string_lossy()))
        .collect()
}

fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("OILMAT_")
        || ["PASSWORD", "SECRET", "TOKEN", "API_KEY"]
            .iter()
            .any(|word| upper.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_kept_from_the_browser() {
        for name in [
            "OILMAT_SECRET_KEY",
            "OILMAT_ADMIN_TOKEN",
            "HOSSES_ERP_PASSWORD",
            "api_key",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "TMPDIR"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
