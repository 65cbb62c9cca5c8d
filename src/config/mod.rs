//! The host's configuration file (TOML): the management listener, the data
//! dir, the WebDriver endpoint and one table per workshop. Unknown keys are
//! an error that names them. The file is the starting point; changes made
//! through the management API are kept (encrypted) under the data dir and
//! win at the next start. Each workshop's retry, timeout, browser and
//! evidence settings are typed tables ([`tuning`]) that the CLI flags of
//! `oilmat-erp workshop` fill as well.

pub mod tuning;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::secrets::Secret;

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

[management]
# The management API for the ILX admin GUI. The admin token comes from the
# environment (OILMAT_ADMIN_TOKEN); without one, it listens on loopback only.
listen = "127.0.0.1:8080"

# One table per workshop; the same fields as PUT /integrations/{workshop}.
# This one works as it is against the sandbox ERP:
#   oilmat-erp sandbox admanager --port 8000
# (then seed a user demo/demo-password, a case and an item through /_sandbox/).
[workshops.hosses]
erp_type = "admanager"            # au2office or admanager
erp_url = "http://127.0.0.1:8000" # the ERP's base URL
port = 5000                       # the workshop's own HTTP API (OilMat posts /create here)
username = "demo"                 # the ERP user the worker logs in as
password = "demo-password"        # or password_env = "HOSSES_ERP_PASSWORD"; stored encrypted once read
active = true                     # start it with the host
# api_key = "..."                 # if set, /create needs the header X-Api-Key
# probe_case = "558"              # a case the synthetic check opens (never changes): oilmat-erp check hosses
# probe_interval_secs = 300       # also probe every 300 s while idle (metric oilmat_probe_success); 0/absent: off

# Optional tables, here with their defaults; a field left out keeps its default.
# [workshops.hosses.retry]        # order-specific retryable faults (a refused save, no confirmation)
# max_attempts = 12               # attempts before the order fails for good
# initial_backoff_ms = 2000       # the first wait; it doubles after each failed attempt
# max_backoff_ms = 300000         # the longest wait (5 min)
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
        Ok(config)
    }

    /// Reads the file, writing the commented example first if it is missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(HostConfig, bool)> {
        let created = !path.exists();
        if created {
            std::fs::write(path, EXAMPLE)
                .with_context(|| format!("cannot write an example config to {}", path.display()))?;
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config = HostConfig::parse(&text)
            .with_context(|| format!("invalid config {}", path.display()))?;
        Ok((config, created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_example_parses() {
        let config = HostConfig::parse(EXAMPLE).unwrap();
        let hosses = &config.workshops["hosses"];
        assert_eq!(hosses.erp_type.as_deref(), Some("admanager"));
        assert_eq!(hosses.port, Some(5000));
        assert_eq!(config.management.listen, "127.0.0.1:8080");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = HostConfig::parse("data_dir = \"x\"\nbogus = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
        let err = HostConfig::parse("[workshops.a]\nprot = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("prot"), "{err}");
    }

    #[test]
    fn a_change_keeps_what_it_leaves_out() {
        let base = IntegrationConfig {
            erp_type: Some("au2office".into()),
            password: Some(Secret::new("pw")),
            port: Some(5000),
            ..Default::default()
        };
        let change = IntegrationConfig {
            port: Some(5001),
            ..Default::default()
        };
        let merged = base.merged(&change);
        assert_eq!(merged.port, Some(5001));
        assert_eq!(merged.password.unwrap().expose(), "pw");
    }

    #[test]
    fn probe_settings_parse_and_merge() {
        let config =
            HostConfig::parse("[workshops.a]\nprobe_case = \"0558\"\nprobe_interval_secs = 60\n")
                .unwrap();
        let a = &config.workshops["a"];
        assert_eq!(a.probe_case.as_deref(), Some("0558"));
        assert_eq!(a.probe_interval_secs, Some(60));
        let off = IntegrationConfig {
            probe_interval_secs: Some(0),
            ..Default::default()
        };
        let merged = a.merged(&off);
        assert_eq!(merged.probe_case.as_deref(), Some("0558"));
        assert_eq!(merged.probe_interval_secs, Some(0));
    }

    #[test]
    fn tuning_tables_parse_into_typed_settings() {
        let config = HostConfig::parse(
            "[workshops.x]\nerp_url = \"http://erp.example/base/\"\n\
             [workshops.x.retry]\nmax_attempts = 2\ninitial_backoff_ms = 10\n\
             [workshops.x.timeouts]\nstep_secs = 7\nsettle_secs = 30\n\
             [workshops.x.browser]\nidle_close_secs = 9\n\
             [workshops.x.evidence]\nmax_files = 5\n",
        )
        .unwrap();
        let x = &config.workshops["x"];
        assert_eq!(x.erp_url.as_ref().unwrap().host_str(), Some("erp.example"));
        let tuning = x.tuning();
        assert_eq!(
            tuning.retry,
            RetryPolicy {
                max_attempts: 2,
                initial_backoff_ms: 10,
                max_backoff_ms: RetryPolicy::DEFAULT.max_backoff_ms,
            }
        );
        assert_eq!(
            tuning.timeouts,
            Timeouts {
                step_secs: 7,
                attempt_secs: 120,
                settle_secs: 30
            }
        );
        assert_eq!(tuning.browser.idle_close_secs, 9);
        assert_eq!(tuning.evidence.max_files, 5);
        assert_eq!(tuning.evidence.max_age_days, 30);
        // Tables left out take their defaults.
        let plain = HostConfig::parse("[workshops.y]\nport = 1\n").unwrap();
        assert_eq!(plain.workshops["y"].tuning(), Tuning::default());
    }

    #[test]
    fn unknown_keys_in_tuning_tables_are_named() {
        for (table, key) in [
            ("retry", "max_attempt"),
            ("timeouts", "step_timeout_secs"),
            ("browser", "idle_close"),
            ("evidence", "max_age"),
        ] {
            let text = format!("[workshops.x.{table}]\n{key} = 1\n");
            let err = HostConfig::parse(&text).unwrap_err().to_string();
            assert!(err.contains(key), "{table}: {err}");
        }
    }

    #[test]
    fn the_management_api_takes_the_same_objects() {
        let change: IntegrationConfig =
            serde_json::from_str(r#"{"retry": {"max_attempts": 1}, "timeouts": {"step_secs": 5}}"#)
                .unwrap();
        let base = IntegrationConfig {
            browser: Some(BrowserSettings { idle_close_secs: 1 }),
            retry: Some(RetryPolicy::default()),
            ..Default::default()
        };
        let tuning = base.merged(&change).tuning();
        assert_eq!(tuning.retry.max_attempts, 1);
        assert_eq!(tuning.timeouts.step_secs, 5);
        assert_eq!(tuning.browser.idle_close_secs, 1);
        let err = serde_json::from_str::<IntegrationConfig>(r#"{"retry": {"attempts": 1}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("attempts"), "{err}");
        // What the host keeps reads back the same.
        let kept = serde_json::to_string(&base.merged(&change)).unwrap();
        let back: IntegrationConfig = serde_json::from_str(&kept).unwrap();
        assert_eq!(back, base.merged(&change));
    }

    #[test]
    fn erp_urls_are_checked_and_the_field_named() {
        for (text, says) in [
            ("ftp://erp.example", "http://"),
            ("erp.example", "not a URL"),
            ("http://", "not a URL"),
            ("mailto:someone@erp.example", "http://"),
        ] {
            let err = HostConfig::parse(&format!("[workshops.x]\nerp_url = {text:?}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("erp_url") && err.contains(says),
                "{text}: {err}"
            );
        }
        assert!(parse_url("--erp-url", "https://erp.example:8443/x").is_ok());
        let err = parse_url("--erp-url", "file:///etc").unwrap_err();
        assert!(err.starts_with("--erp-url"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = HostConfig::parse(&text);
        }

        #[test]
        fn arbitrary_toml_like_text_never_panics(
            keys in prop::collection::vec("[a-z_]{1,12}", 0..6),
            values in prop::collection::vec(prop_oneof!["\"[^\"]{0,10}\"", "[0-9]{1,6}", Just("true".to_string()), Just("[1,2]".to_string())], 0..6)
        ) {
            let mut text = String::from("[workshops.w]\n");
            for (k, v) in keys.iter().zip(values.iter()) {
                text.push_str(&format!("{k} = {v}\n"));
            }
            let _ = HostConfig::parse(&text);
        }
    }
}
