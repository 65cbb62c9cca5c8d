//! From a subcommand's flags to the typed settings that `startup` runs:
//! each check names the flag that is wrong.

use std::time::Duration;

use anyhow::{bail, Context};

#[cfg(feature = "sandbox")]
use super::SandboxArgs;
use super::{ProbeArgs, ServeArgs, WorkshopArgs};
use crate::config::{self, HostConfig};
use crate::erp::Credentials;
use crate::erp::ErpType;
use crate::erp::WebDriverEndpoint;
#[cfg(feature = "sandbox")]
use crate::sandbox::SandboxOptions;
use crate::workshop::{self, ProbeSettings, WorkshopSettings};

impl WorkshopArgs {
    /// The settings of `oilmat-erp workshop`, checked.
    pub fn settings(&self) -> anyhow::Result<WorkshopSettings> {
        workshop::validate_name(&self.workshop).map_err(anyhow::Error::msg)?;
        let erp_type: ErpType = self.erp_type.parse().map_err(anyhow::Error::msg)?;
        let Some(erp_url) = self.erp_url.as_deref() else {
            bail!("missing --erp-url: the base URL of the workshop's {erp_type} (e.g. --erp-url https://erp.example, or OILMAT_ERP_URL)");
        };
        let erp_url = config::parse_url("--erp-url", erp_url).map_err(anyhow::Error::msg)?;
        let endpoint: WebDriverEndpoint = self.webdriver.parse().map_err(anyhow::Error::msg)?;
        let mut settings = WorkshopSettings::new(
            self.workshop.clone(),
            erp_type,
            &erp_url,
            endpoint,
            self.data.data_dir.clone(),
            &self.tuning,
        );
        settings.probe = self.probe.settings()?;
        if let Some(var) = &self.api_key_env {
            let key = std::env::var(var)
                .ok()
                .filter(|k| !k.trim().is_empty())
                .with_context(|| format!("--api-key-env: ${var} is not set"))?;
            settings.api_key = Some(crate::secrets::Secret::new(key));
        }
        Ok(settings)
    }
}

impl ProbeArgs {
    /// The periodic probe: `None` unless both `--probe-case` and a non-zero
    /// `--probe-interval-secs` are given.
    pub fn settings(&self) -> anyhow::Result<Option<ProbeSettings>> {
        let interval = self.probe_interval_secs.filter(|secs| *secs > 0);
        let (case_id, interval) = match (&self.probe_case, interval) {
            (Some(case_id), Some(secs)) => (case_id.clone(), Duration::from_secs(secs)),
            (None, Some(_)) => {
                bail!("--probe-interval-secs needs --probe-case (the case the probe opens)")
            }
            _ => return Ok(None),
        };
        if case_id.trim().is_empty() {
            bail!("--probe-case is empty");
        }
        let Some(username) = self.probe_username.clone() else {
            bail!(
                "the probe needs an ERP login: --probe-username USER, the password in ${}",
                self.probe_password_env
            );
        };
        let password = std::env::var(&self.probe_password_env).with_context(|| {
            format!(
                "the probe's password: ${} is not set",
                self.probe_password_env
            )
        })?;
        Ok(Some(ProbeSettings {
            case_id,
            interval,
            credentials: Credentials { username, password },
        }))
    }
}

#[cfg(feature = "sandbox")]
impl SandboxArgs {
    /// The sandbox ERP's options.
    pub fn options(&self) -> anyhow::Result<SandboxOptions> {
        Ok(SandboxOptions {
            erp: self.erp_type.parse().map_err(anyhow::Error::msg)?,
            data: self.data.clone(),
            session_idle: Duration::from_secs(self.session_idle_secs),
        })
    }
}

impl ServeArgs {
    /// The host's configuration (`--data-dir` over the file's), and whether
    /// the file was just written with the example because it was missing.
    pub fn config(&self) -> anyhow::Result<(HostConfig, bool)> {
        let (mut config, created) = HostConfig::load_or_create(&self.config)?;
        if let Some(data_dir) = &self.data_dir {
            config.data_dir = data_dir.clone();
        }
        config.key_file.clone_from(&self.key_file);
        Ok((config, created))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Cmd};

    fn workshop(flags: &[&str]) -> anyhow::Result<crate::workshop::WorkshopSettings> {
        let mut args = vec!["oilmat-erp", "workshop", "0", "w", "au2office"];
        args.extend_from_slice(flags);
        match Cli::try_parse_from(args)?.command {
            Cmd::Workshop(args) => args.settings(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_flags_fill_the_same_settings_as_the_file() {
        let settings = workshop(&[
            "--erp-url",
            "http://127.0.0.1:8000/",
            "--max-attempts",
            "2",
            "--step-timeout-secs",
            "7",
            "--idle-close-secs",
            "9",
        ])
        .unwrap();
        assert_eq!(settings.erp_url, "http://127.0.0.1:8000");
        assert_eq!(settings.retry.max_attempts, 2);
        assert_eq!(settings.retry.initial_backoff_ms, 2_000);
        assert_eq!(settings.step_timeout.as_secs(), 7);
        assert_eq!(settings.idle_close.as_secs(), 9);
        assert_eq!(settings.attempt_timeout.as_secs(), 120);
    }

    #[test]
    fn a_bad_erp_url_names_the_flag() {
        let err = workshop(&["--erp-url", "ftp://erp"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--erp-url"), "{err}");
    }
}
