//! The host's configuration file (TOML): the management listener, the data
//! dir, the WebDriver endpoint and one table per workshop. Unknown keys are
//! an error that names them. The file is the starting point; changes made
//! through the management API are kept (encrypted) under the data dir and
//! win at the next start. Each workshop's retry, timeout, browser and
//! evidence settings are typed tables ([`tuning`]) that the CLI flags of
//! `oilmat-erp workshop` fill as well.

pub mod console;
pub mod tuning;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::secrets::Secret;

pub use console::ConsoleConfig;
pub use tuning::{BrowserSettings, EvidenceSettings, RetryPolicy, Timeouts, Tuning};

/// The example written when the config file does not exist yet.
pub const EXAMPLE: &str = r#"# oilmat-erp host configuration (`oilmat-erp serve --config oilmat.toml`).
# Unknown keys are an error. Changes made through the management API are kept
# (encrypted) under data_dir and win over this file at the next start.

# Where every workshop keeps its event log, evidence and state.
data_dir = "workshop_logs"

# "spawn": every workshop starts and supervises its own chromedriver here.
# Or a WebDriver URL, e.g. a Selenium Grid hub: "http://grid.internal:4444".
webdriver = "spawn"

# How many ids that were only ever refused (bad requests) each workshop
# remembers: the newest; an older one's /check_order_status answers 404.
# bad_requests_kept = 10000

[management]
# The management API for the ILX admin GUI. The admin token comes from the
# environment (OILMAT_ADMIN_TOKEN); without one, it listens on loopback only.
listen = "127.0.0.1:8080"

[console]
# The support console at http://LISTEN/console/ (same listener). It is on when
# OILMAT_ADMIN_TOKEN (everything) or OILMAT_SUPPORT_TOKEN (read and requeue
# only) is set; sign in with one of them.
# dashboard_url = "https://grafana.example/d/oilmat?var-workshop={workshop}"
# trace_url = "https://tempo.example/trace/{trace_id}"   # must contain {trace_id}
# secure_cookie = false          # true: the session cookie is sent over HTTPS only
# session_hours = 8

# One table per workshop; the same fields as PUT /integrations/{workshop}
# (except password_env, which is for this file only).
# This one works against the sandbox ERP:
#   oilmat-erp sandbox admanager --port 8000
# (then seed a user demo/demo-password, a case and an item through /_sandbox/)
# with the password in the environment: HOSSES_ERP_PASSWORD=demo-password
[workshops.hosses]
erp_type = "admanager"            # au2office or admanager
erp_url = "http://127.0.0.1:8000" # the ERP's base URL
port = 5000                       # the workshop's own HTTP API (OilMat posts /create here)
listen = "127.0.0.1"              # its address (default 0.0.0.0: then api_key is needed)
username = "demo"                 # the ERP user the worker logs in as
password_env = "HOSSES_ERP_PASSWORD" # or password = "..." (plain text in this file); stored encrypted once read
active = true                     # start it with the host
# api_key = "..."                 # /create needs the header X-Api-Key; required when
#                                 # listen is not loopback, unless:
# allow_anonymous_create = true   # accept anonymous /create on a non-loopback listen (a warning at start)
# probe_case = "558"              # a case the synthetic check opens (never changes): oilmat-erp check hosses
# probe_interval_secs = 300       # also probe every 300 s while idle (metric oilmat_probe_success); 0/absent: off

# Optional tables, here with their defaults; a field left out keeps its default.
# [workshops.hosses.retry]        # order-specific retryable faults (a refused save, no confirmation)
# max_attempts = 12               # attempts before the order fails for good
# initial_backoff_ms = 2000       # the first wait; it doubles after each failed attempt
# max_backoff_ms = 300000         # the longest wait (5 min)
# breaker_threshold = 3           # integration faults in a row (ERP unreachable) that take it down
# check_initial_ms = 5000         # while down: the first wait between reachability checks; doubles
# check_max_ms = 60000            # the longest wait between checks
# max_age_secs = 604800           # how long an order waits for an ERP that is down (7 days)
# crash_limit = 3                 # attempts the process may die in before the order fails (crash loop)
# max_unique_id_len = 128         # the longest unique_id /create takes
# [workshops.hosses.timeouts]
# step_secs = 20                  # the longest one browser step may take
# attempt_secs = 120              # the longest a whole attempt may take
# settle_secs = 120               # how long an unconfirmed save is given before the case is read again
# [workshops.hosses.browser]
# idle_close_secs = 300           # close the browser after this long without an order
# [workshops.hosses.evidence]
# max_age_days = 30               # delete screenshots and page sources of failed attempts after this
# max_files = 2000                # and keep at most this many
"#;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Where every workshop keeps its data.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// "spawn" or a WebDriver URL.
    #[serde(default = "default_webdriver")]
    pub webdriver: String,
    /// The management API.
    #[serde(default)]
    pub management: ManagementConfig,
    /// The support console under the management listener's `/console/`.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// How many ids that were only ever bad requests each workshop's views
    /// keep (default 10,000; the newest; older ones answer 404).
    #[serde(default)]
    pub bad_requests_kept: Option<usize>,
    /// The workshops, by name.
    #[serde(default)]
    pub workshops: BTreeMap<String, IntegrationConfig>,
    /// The secret key's file, when given on the command line (`serve
    /// --key-file`); else the default location.
    #[serde(skip)]
    pub key_file: Option<PathBuf>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("workshop_logs")
}

fn default_webdriver() -> String {
    "spawn".to_string()
}

/// The management API's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagementConfig {
    /// Address to listen on; default 127.0.0.1:8080.
    #[serde(default = "default_listen")]
    pub listen: String,
}

impl Default for ManagementConfig {
    fn default() -> Self {
        ManagementConfig {
            listen: default_listen(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_string()
}

/// One workshop integration, as in the file and in `PUT /integrations/{workshop}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    /// au2office or admanager.
    #[serde(default)]
    pub erp_type: Option<String>,
    /// The ERP's base URL (http or https, with a host).
    #[serde(default, deserialize_with = "de_erp_url")]
    pub erp_url: Option<Url>,
    /// The workshop's HTTP API port.
    #[serde(default)]
    pub port: Option<u16>,
    /// The ERP user the worker logs in as.
    #[serde(default)]
    pub username: Option<String>,
    /// Its password (never shown back).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_secret"
    )]
    pub password: Option<Secret>,
    /// Or the environment variable holding it (file only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Start it with the host.
    #[serde(default)]
    pub active: Option<bool>,
    /// The address its HTTP API listens on (the port is `port`); default
    /// `0.0.0.0`. Anything but loopback needs `api_key` or
    /// `allow_anonymous_create = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<IpAddr>,
    /// Accept `/create` without a key on a non-loopback `listen` (said in so
    /// many words; warned about at start and flagged in the overview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_anonymous_create: Option<bool>,
    /// If set, `/create` needs `X-Api-Key` (never shown back).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_secret"
    )]
    pub api_key: Option<Secret>,
    /// The case the synthetic check opens (`oilmat-erp check`, the periodic
    /// probe); it is only looked at, never changed. Default: none.
    #[serde(default)]
    pub probe_case: Option<String>,
    /// Run the probe every this many seconds while the worker is idle;
    /// 0 or absent: off (the default).
    #[serde(default)]
    pub probe_interval_secs: Option<u64>,
    /// How retryable faults are retried; default [`RetryPolicy::DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Step, attempt and settle times; default [`Timeouts::DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    /// The browser session; default [`BrowserSettings::DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<BrowserSettings>,
    /// Evidence kept of failed attempts; default [`EvidenceSettings::DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceSettings>,
}

/// Reads `erp_url`, naming the field when the text is no URL.
fn de_erp_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| parse_url("erp_url", &t))
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// Parses and checks a URL the service will browse to; `field` names where
/// it came from (`erp_url`, `--erp-url`) in the error.
pub fn parse_url(field: &str, text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("{field} {text:?} is not a URL: {e}"))?;
    check_url(field, &url)?;
    Ok(url)
}

/// The URL as a base to append paths to: without its trailing `/`.
pub fn base_url(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// Refuses anything but an http(s) URL with a host; the error names `field`.
pub fn check_url(field: &str, url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{field} {:?} must start with http:// or https://",
            url.as_str()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{field} {:?} has no host", url.as_str()));
    }
    Ok(())
}

/// Writes a secret's value: only ever into the host state file
/// (`.oilmat-host-state`, encrypted); no API answer serialises this struct.
fn ser_secret<S: serde::Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(v) => s.serialize_some(v.expose()),
        None => s.serialize_none(),
    }
}

impl IntegrationConfig {
    /// This config with the fields `change` sets replacing ours (a table
    /// given replaces the whole table: its missing fields take their defaults).
    pub fn merged(&self, change: &IntegrationConfig) -> IntegrationConfig {
        IntegrationConfig {
            erp_type: change.erp_type.clone().or_else(|| self.erp_type.clone()),
            erp_url: change.erp_url.clone().or_else(|| self.erp_url.clone()),
            port: change.port.or(self.port),
            username: change.username.clone().or_else(|| self.username.clone()),
            password: change.password.clone().or_else(|| self.password.clone()),
            password_env: change
                .password_env
                .clone()
                .or_else(|| self.password_env.clone()),
            active: change.active.or(self.active),
            listen: change.listen.or(self.listen),
            allow_anonymous_create: change
                .allow_anonymous_create
                .or(self.allow_anonymous_create),
            api_key: change.api_key.clone().or_else(|| self.api_key.clone()),
            probe_case: change
                .probe_case
                .clone()
                .or_else(|| self.probe_case.clone()),
            probe_interval_secs: change.probe_interval_secs.or(self.probe_interval_secs),
            retry: change.retry.or(self.retry),
            timeouts: change.timeouts.or(self.timeouts),
            browser: change.browser.or(self.browser),
            evidence: change.evidence.or(self.evidence),
        }
    }

    /// The tuning tables, each given or its defaults.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            retry: self.retry.unwrap_or_default(),
            timeouts: self.timeouts.unwrap_or_default(),
            browser: self.browser.unwrap_or_default(),
            evidence: self.evidence.unwrap_or_default(),
        }
    }

    /// The password: given, or read from its environment variable.
    pub fn resolve_password(&mut self) -> Result<(), String> {
        if self.password.is_none() {
            if let Some(var) = &self.password_env {
                let value =
                    std::env::var(var).map_err(|_| format!("password_env {var} is not set"))?;
                self.password = Some(Secret::new(value));
            }
        }
        Ok(())
    }
}

impl HostConfig {
    /// Parses the file's text; errors name the offending key and line.
    pub fn parse(text: &str) -> anyhow::Result<HostConfig> {
        let config: HostConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.console.check().map_err(anyhow::Error::msg)?;
        Ok(config)
    }

    /// Reads the file, writing the commented example first if it is missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(HostConfig, bool)> {
        let created = !path.exists();
        if created {
            write_private(path, EXAMPLE)
                .with_context(|| format!("cannot write an example config to {}", path.display()))?;
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config = HostConfig::parse(&text)
            .with_context(|| format!("invalid config {}", path.display()))?;
        Ok((config, created))
    }
}

/// Writes a new file readable by its owner only (0600 where there are modes).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests;
