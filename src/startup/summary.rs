//! The start-up security summary: every insecure setting in force, said
//! once, in one log line, when `workshop` or `serve` starts (README,
//! "Security"). Nothing insecure in force: one line that says so.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use url::Url;

use crate::config::{HostConfig, IntegrationConfig};
use crate::erp::WebDriverEndpoint;

/// What the summary looks at that is the same for both commands.
pub struct Common<'a> {
    /// An admin token is configured.
    pub admin_token: bool,
    /// Where browsers are.
    pub endpoint: &'a WebDriverEndpoint,
}

/// The insecure settings of `oilmat-erp workshop`.
pub fn workshop(
    common: &Common<'_>,
    listen: SocketAddr,
    api_key: bool,
    erp_url: &Url,
) -> Vec<String> {
    let mut items = Vec::new();
    if !api_key {
        items.push(format!(
            "anonymous /create accepted on {listen} (no --api-key-env)"
        ));
    }
    if !common.admin_token {
        items.push(
            "no OILMAT_ADMIN_TOKEN: /kill, /clear_queue, /start_worker and /stop_worker accept callers local in every way without a token".to_string(),
        );
    }
    items.extend(plain_http_erp("", erp_url));
    items.extend(shared(common));
    items
}

/// The insecure settings of `oilmat-erp serve`: `integrations` are the
/// ones in force (the file's with the API's changes), `config` the file.
pub fn host(
    common: &Common<'_>,
    config: &HostConfig,
    management: SocketAddr,
    console_on: bool,
    integrations: &BTreeMap<String, IntegrationConfig>,
) -> Vec<String> {
    let mut items = Vec::new();
    if !common.admin_token {
        items.push(format!(
            "no OILMAT_ADMIN_TOKEN: the management API ({management}) and the workshops' control endpoints accept callers local in every way without a token"
        ));
    } else if !management.ip().is_loopback() {
        items.push(format!(
            "the management API listens on {management} over plain HTTP: the admin token crosses the network unencrypted (put a TLS proxy in front and listen on loopback)"
        ));
    }
    if console_on && !config.console.secure_cookie {
        items.push(
            "the console's session cookie is not marked Secure ([console] secure_cookie = false; marked only behind a loopback proxy that says X-Forwarded-Proto: https)".to_string(),
        );
    }
    for (name, integration) in integrations {
        if integration.active == Some(false) {
            continue;
        }
        items.extend(integration_items(name, integration));
        let in_file = config.workshops.get(name);
        if in_file.is_some_and(|c| c.password.is_some()) {
            items.push(format!(
                "{name}: the ERP password is in plain text in the config file (use password_env)"
            ));
        }
    }
    items.extend(shared(common));
    items
}

fn integration_items(name: &str, c: &IntegrationConfig) -> Vec<String> {
    let mut items = Vec::new();
    if c.api_key.as_ref().is_none_or(|k| k.expose().is_empty()) {
        let ip = c
            .listen
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let addr = SocketAddr::new(ip, c.port.unwrap_or(0));
        if ip.is_loopback() {
            items.push(format!(
                "{name}: anonymous /create accepted on {addr} (no api_key; loopback only)"
            ));
        } else if c.allow_anonymous_create == Some(true) {
            items.push(format!(
                "{name}: anonymous /create accepted on {addr} (no api_key, allow_anonymous_create = true)"
            ));
        }
        // Otherwise it is refused at start: not in force.
    }
    if let Some(url) = &c.erp_url {
        items.extend(plain_http_erp(&format!("{name}: "), url));
    }
    items
}

/// An ERP reached over plain HTTP on another machine: the password typed
/// into its login form crosses the network unencrypted.
fn plain_http_erp(prefix: &str, url: &Url) -> Option<String> {
    (url.scheme() == "http" && !is_loopback_host(url)).then(|| {
        format!(
            "{prefix}erp_url {} is plain HTTP to another machine: the ERP password crosses the network unencrypted",
            url.origin().ascii_serialization()
        )
    })
}

fn shared(common: &Common<'_>) -> Vec<String> {
    let mut items = Vec::new();
    if let WebDriverEndpoint::Url(url) = common.endpoint {
        if let Ok(url) = Url::parse(url) {
            if url.scheme() == "http" && !is_loopback_host(&url) {
                items.push(format!(
                    "webdriver {} is a remote WebDriver over plain HTTP: typed passwords cross the network unencrypted",
                    url.origin().ascii_serialization()
                ));
            }
        }
    }
    if crate::platform::chromium_needs_no_sandbox() {
        items.push("Chromium runs with --no-sandbox (running as root)".to_string());
    }
    if std::env::var_os(crate::secrets::KEY_ENV).is_some() {
        items.push(format!(
            "the secret key comes from the environment ({}): whoever can read this process's environment can decrypt the stored credentials (a 0600 key file is safer)",
            crate::secrets::KEY_ENV
        ));
    }
    items
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Logs the summary: one warning listing every item, or one line saying
/// that nothing insecure is in force.
pub fn log(items: &[String]) {
    if items.is_empty() {
        tracing::info!("security summary: no insecure setting in force");
    } else {
        tracing::warn!(
            "security summary: {} insecure setting(s) in force: {}",
            items.len(),
            items
                .iter()
                .enumerate()
                .map(|(i, item)| format!("({}) {item}", i + 1))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn plain_http_counts_only_off_this_machine() {
        assert!(plain_http_erp("", &url("http://erp.example")).is_some());
        assert!(plain_http_erp("", &url("http://10.0.0.5:8000")).is_some());
        for safe in [
            "https://erp.example",
            "http://127.0.0.1:8000",
            "http://localhost:8000",
            "http://[::1]:8000",
        ] {
            assert!(plain_http_erp("", &url(safe)).is_none(), "{safe}");
        }
    }

    #[test]
    fn an_integration_without_a_key_is_named_with_its_address() {
        let open = IntegrationConfig {
            port: Some(5000),
            allow_anonymous_create: Some(true),
            erp_url: Some(url("https://erp.example")),
            ..IntegrationConfig::default()
        };
        let items = integration_items("hosses", &open);
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(items[0].contains("0.0.0.0:5000") && items[0].contains("allow_anonymous_create"));
        let keyed = IntegrationConfig {
            api_key: Some(crate::secrets::Secret::new("k")),
            erp_url: Some(url("https://erp.example")),
            ..IntegrationConfig::default()
        };
        assert!(integration_items("hosses", &keyed).is_empty());
    }
}
