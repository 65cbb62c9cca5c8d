//! The host's configuration file (TOML): the management listener, the data
//! dir, the WebDriver endpoint and one table per workshop. Unknown keys are
//! an error that names them. The file is the starting point; changes made
//! through the management API are kept (encrypted) under the data dir and
//! win at the next start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::secrets::Secret;

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
    /// The ERP's base URL.
    #[serde(default)]
    pub erp_url: Option<String>,
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
    /// This config with the fields `change` sets replacing ours.
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
