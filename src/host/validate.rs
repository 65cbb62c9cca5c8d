//! Checks an integration's configuration before the host starts it.

use std::net::{IpAddr, Ipv4Addr};
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
    /// The workshop API's address (default `0.0.0.0`).
    pub listen: IpAddr,
    /// `/create` is open to anyone who reaches `listen` (not loopback, no
    /// key, `allow_anonymous_create = true`).
    pub anonymous_create: bool,
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
    let api_key = config.api_key.clone().filter(|k| !k.expose().is_empty());
    let listen = listen_address(&config);
    let anonymous_create = check_access(listen, api_key.is_some(), &config)?;
    Ok(ValidIntegration {
        erp_type,
        erp_url,
        port,
        listen,
        anonymous_create,
        credentials: Credentials {
            username,
            password: password.expose().to_string(),
        },
        active: config.active.unwrap_or(true),
        api_key,
        probe_case,
        probe_interval,
        tuning,
    })
}

/// What a change through the management API may not do (interfaces.md):
/// name a `password_env` (the config file's only: over the API it could name
/// any of the service's variables), or move the ERP to another origin
/// (scheme, host or port) without the password again, so that a stored
/// password is never sent to a new address.
pub fn check_api_change(old: &IntegrationConfig, change: &IntegrationConfig) -> Result<(), String> {
    if change.password_env.is_some() {
        return Err("password_env is for the config file only: send the password itself".into());
    }
    let moved = match (&old.erp_url, &change.erp_url) {
        (Some(old), Some(new)) => old.origin() != new.origin(),
        _ => false,
    };
    if moved && change.password.is_none() {
        return Err(
            "a change of the ERP's origin (scheme, host or port) needs the password again".into(),
        );
    }
    Ok(())
}

/// The address an integration's API listens on: `listen`, default `0.0.0.0`.
pub fn listen_address(config: &IntegrationConfig) -> IpAddr {
    config.listen.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// interfaces.md: a non-loopback API needs `api_key` unless
/// `allow_anonymous_create = true`; whether `/create` ends up anonymous there.
fn check_access(listen: IpAddr, has_key: bool, config: &IntegrationConfig) -> Result<bool, String> {
    if listen.is_loopback() || has_key {
        return Ok(false);
    }
    if config.allow_anonymous_create == Some(true) {
        return Ok(true);
    }
    Err(format!(
        "its API listens on {listen} (not loopback) without an api_key: set api_key \
         (OilMat then sends X-Api-Key), or listen = \"127.0.0.1\", or \
         allow_anonymous_create = true to accept anonymous orders there"
    ))
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
    fn a_new_erp_origin_needs_the_password_again() {
        let at = |url: &str| IntegrationConfig {
            erp_url: Some(url::Url::parse(url).unwrap()),
            ..Default::default()
        };
        let old = IntegrationConfig {
            password: Some(Secret::new("pw")),
            ..at("https://erp.example/base")
        };
        for moved in [
            "http://erp.example/base",
            "https://evil.example/base",
            "https://erp.example:8443/base",
        ] {
            let err = check_api_change(&old, &at(moved)).unwrap_err();
            assert!(err.contains("needs the password again"), "{moved}: {err}");
            let with_password = IntegrationConfig {
                password: Some(Secret::new("new")),
                ..at(moved)
            };
            assert_eq!(check_api_change(&old, &with_password), Ok(()), "{moved}");
        }
        assert_eq!(
            check_api_change(&old, &at("https://erp.example:443/other")),
            Ok(())
        );
        assert_eq!(
            check_api_change(&IntegrationConfig::default(), &at("https://new.example")),
            Ok(())
        );
        let env = IntegrationConfig {
            password_env: Some("OILMAT_SECRET_KEY".into()),
            ..Default::default()
        };
        assert!(check_api_change(&old, &env)
            .unwrap_err()
            .contains("config file only"));
    }

    #[test]
    fn a_public_api_needs_a_key_or_says_it_is_open() {
        let access = |listen: &str, key: bool, anonymous: Option<bool>| {
            let config = IntegrationConfig {
                allow_anonymous_create: anonymous,
                ..Default::default()
            };
            check_access(listen.parse().unwrap(), key, &config)
        };
        assert_eq!(access("127.0.0.1", false, None), Ok(false));
        assert_eq!(access("::1", false, None), Ok(false));
        assert_eq!(access("0.0.0.0", true, None), Ok(false));
        assert_eq!(access("0.0.0.0", false, Some(true)), Ok(true));
        for anonymous in [None, Some(false)] {
            let err = access("0.0.0.0", false, anonymous).unwrap_err();
            assert!(
                err.contains("api_key") && err.contains("allow_anonymous_create"),
                "{err}"
            );
        }
        assert_eq!(
            listen_address(&IntegrationConfig::default()).to_string(),
            "0.0.0.0"
        );
    }

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
