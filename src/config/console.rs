//! The `[console]` table: links the support console shows and how its
//! session cookie is marked.

use serde::Deserialize;

/// The support console's settings (`[console]`). The console itself is on
/// when `OILMAT_ADMIN_TOKEN` or `OILMAT_SUPPORT_TOKEN` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// A workshop's Grafana dashboard; `{workshop}` is replaced by its name.
    #[serde(default)]
    pub dashboard_url: Option<String>,
    /// A trace viewer's URL for one trace; must contain `{trace_id}`.
    #[serde(default)]
    pub trace_url: Option<String>,
    /// Mark the session cookie `Secure` always (it is also marked when a
    /// loopback proxy says `X-Forwarded-Proto: https`).
    #[serde(default)]
    pub secure_cookie: bool,
    /// How long a console session lasts, in hours; default 8.
    #[serde(default)]
    pub session_hours: Option<u64>,
}

impl ConsoleConfig {
    /// Refuses a `trace_url` without `{trace_id}` and links that are not http(s).
    pub fn check(&self) -> Result<(), String> {
        if let Some(url) = &self.trace_url {
            if !url.contains("{trace_id}") {
                return Err(format!(
                    "[console] trace_url {url:?} must contain {{trace_id}}"
                ));
            }
        }
        for (field, url) in [
            ("dashboard_url", &self.dashboard_url),
            ("trace_url", &self.trace_url),
        ] {
            if let Some(url) = url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!(
                        "[console] {field} {url:?} must start with http:// or https://"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The dashboard link for one workshop, if configured.
    pub fn dashboard_for(&self, workshop: &str) -> Option<String> {
        self.dashboard_url
            .as_ref()
            .map(|u| u.replace("{workshop}", workshop))
    }

    /// The trace viewer's link for one trace, if configured.
    pub fn trace_link(&self, trace_id: &str) -> Option<String> {
        self.trace_url
            .as_ref()
            .map(|u| u.replace("{trace_id}", trace_id))
    }

    /// How long a session lasts.
    pub fn session_length(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.session_hours.unwrap_or(8).clamp(1, 24 * 30) * 3600)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ConsoleConfig, HostConfig};

    #[test]
    fn the_console_table_parses_and_refuses_unknown_keys() {
        let config = HostConfig::parse(
            "[console]\ntrace_url = \"https://t.example/{trace_id}\"\nsecure_cookie = true\n",
        )
        .unwrap();
        assert_eq!(
            config.console.trace_link("abc").as_deref(),
            Some("https://t.example/abc")
        );
        assert!(config.console.secure_cookie);
        assert_eq!(
            HostConfig::parse("").unwrap().console,
            ConsoleConfig::default()
        );
        let err = HostConfig::parse("[console]\ndashboard = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("dashboard"), "{err}");
        let err = HostConfig::parse("[console]\ntrace_url = \"https://t.example/\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("{trace_id}"), "{err}");
    }
}
