//! Checks an integration's configuration before the host starts it.

use std::time::Duration;

use crate::config::{IntegrationConfig, Tuning};
use crate::erp::Credentials;
use crate::erp::ErpType;
use crate::secrets::Secret;
use crate::workshop;

/// An integration's configuration, checked and complete.
#[derive(Debug, Clone)]
pub struct ValidIntegration {
    /// Which ERP.
    pub erp_type: ErpType,
    /// Its base URL.
    pub erp_url: url::Url,
    /// The workshop API's port.
    pub port: u16,
    /// The ERP login.
    pub credentials: Credentials,
    /// Start with the host.
    pub active: bool,
    /// `/create` needs this `X-Api-Key`.
    pub api_key: Option<Secret>,
    /// The case the synthetic check opens, if one is configured.
    pub probe_case: Option<String>,
    /// How often the periodic probe runs; `None`: off.
    pub probe_interval: Option<Duration>,
    /// Its retry, timeout, browser and evidence settings.
    pub tuning: Tuning,
}

/// Checks a configuration; the error says what is wrong.
pub fn validate(name: &str, config: &IntegrationConfig) -> Result<ValidIntegration, String> {
    workshop::validate_name(name)?;
    let mut config = config.clone();
    config.resolve_password()?;
    let erp_type: ErpType = config
        .erp_type
        .as_deref()
        .ok_or("missing erp_type")?
        .parse()?;
    let erp_url = config.erp_url.clone().ok_or("missing erp_url")?;
    crate::config::check_url("erp_url", &erp_url)?;
    let port = config.port.ok_or("missing port")?;
    if port == 0 {
        return Err("port must be 1-65535".into());
    }
    let username = config
        .username
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or("missing username")?;
    if username.len() > 256 || username.chars().any(char::is_control) {
        return Err("username must be at most 256 printable characters".into());
    }
    let password = config
        .password
        .clone()
        .ok_or("missing password (or password_env)")?;
    if password.expose().is_empty() || password.expose().len() > 1024 {
        return Err("password must be 1-1024 characters".into());
    }
    let (probe_case, probe_interval) = validate_probe(&config)?;
    let tuning = config.tuning();
    Ok(ValidIntegration {
        erp_type,
        erp_url,
        port,
        credentials: Credentials {
            username,
            password: password.expose().to_string(),
        },
        active: config.active.unwrap_or(true),
        api_key: config.api_key.filter(|k| !k.expose().is_empty()),
        probe_case,
        probe_interval,
        tuning,
    })
}

/// The probe case (checked) and the probe interval (`None`: off).
fn validate_probe(
    config: &IntegrationConfig,
) -> Result<(Option<String>, Option<Duration>), String> {
    let case = config.probe_case.clone();
    if let Some(case) = &case {
        if case.trim().is_empty() || case.len() > 256 || case.chars().any(char::is_control) {
            return Err("probe_case must be 1-256 printable characters".into());
        }
    }
    let interval = config.probe_interval_secs.filter(|secs| *secs > 0);
    if interval.is_some() && case.is_none() {
        return Err("probe_interval_secs needs probe_case (the case the probe opens)".into());
    }
    Ok((case, interval.map(Duration::from_secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_runs_only_with_a_case_and_an_interval() {
        let probe = |case: Option<&str>, secs: Option<u64>| {
            validate_probe(&IntegrationConfig {
                probe_case: case.map(str::to_string),
                probe_interval_secs: secs,
                ..Default::default()
            })
        };
        let case = || Some("0558".to_string());
        assert_eq!(probe(None, None), Ok((None, None)));
        assert_eq!(probe(Some("0558"), None), Ok((case(), None)));
        assert_eq!(probe(Some("0558"), Some(0)), Ok((case(), None)));
        let every_minute = Some(Duration::from_secs(60));
        assert_eq!(probe(Some("0558"), Some(60)), Ok((case(), every_minute)));
        assert!(probe(None, Some(60)).is_err());
        assert!(probe(Some(" "), None).is_err());
    }
}
