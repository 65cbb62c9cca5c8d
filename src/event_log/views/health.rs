//! The ERP's health, folded from `integration down` / `integration up`
//! events: whether the whole ERP is down, which logins it refuses, and how
//! many outages there were. It survives restarts like every view.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event_log::events::EventKind;

/// Since when and why the ERP (or a login) has not worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// The fault, as support should read it.
    pub fault: String,
    /// When it began (ms since the epoch).
    pub since_ms: u64,
}

/// The ERP's health as the log tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErpHealth {
    /// The whole ERP is unreachable (or shows no UI) since then; `None`: up.
    #[serde(default)]
    pub down: Option<Outage>,
    /// Logins the ERP refuses, by user name.
    #[serde(default)]
    pub refused_logins: BTreeMap<String, Outage>,
    /// Outages so far (whole-ERP and refused logins), for the metrics.
    #[serde(default)]
    pub outages: u64,
}

impl ErpHealth {
    /// Folds an event in; other kinds leave it alone.
    pub fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::IntegrationDown {
                fault,
                since_ms,
                login,
            } => {
                let outage = Outage {
                    fault: fault.clone(),
                    since_ms: *since_ms,
                };
                let was = match login {
                    None => self.down.replace(outage),
                    Some(user) => self.refused_logins.insert(user.clone(), outage),
                };
                if was.is_none() {
                    self.outages += 1;
                }
            }
            EventKind::IntegrationUp { login: None } => self.down = None,
            EventKind::IntegrationUp { login: Some(user) } => {
                self.refused_logins.remove(user);
            }
            _ => {}
        }
    }

    /// What holds an order that logs in as `login` back, if anything: the
    /// whole ERP being down, or that login being refused.
    pub fn blocking(&self, login: Option<&str>) -> Option<&Outage> {
        self.down
            .as_ref()
            .or_else(|| login.and_then(|user| self.refused_logins.get(user)))
    }

    /// Whether the event changes nothing: the state it reports holds already.
    pub fn already(&self, kind: &EventKind) -> bool {
        match kind {
            EventKind::IntegrationDown { login: None, .. } => self.down.is_some(),
            EventKind::IntegrationDown {
                login: Some(user), ..
            } => self.refused_logins.contains_key(user),
            EventKind::IntegrationUp { login: None } => self.down.is_none(),
            EventKind::IntegrationUp { login: Some(user) } => {
                !self.refused_logins.contains_key(user)
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(login: Option<&str>, since_ms: u64) -> EventKind {
        EventKind::IntegrationDown {
            fault: "HTTP 503".into(),
            since_ms,
            login: login.map(str::to_string),
        }
    }

    #[test]
    fn outages_fold_down_and_up() {
        let mut health = ErpHealth::default();
        health.apply(&down(None, 10));
        health.apply(&down(None, 20));
        assert_eq!(health.down.as_ref().map(|o| o.since_ms), Some(20));
        assert_eq!(health.outages, 1);
        assert!(health.blocking(Some("kim")).is_some());
        health.apply(&EventKind::IntegrationUp { login: None });
        assert_eq!(health.blocking(None), None);
        assert!(health.already(&EventKind::IntegrationUp { login: None }));
    }

    #[test]
    fn a_refused_login_holds_only_that_login() {
        let mut health = ErpHealth::default();
        health.apply(&down(Some("kim"), 5));
        assert!(health.blocking(Some("kim")).is_some());
        assert!(health.blocking(Some("bo")).is_none());
        assert!(health.blocking(None).is_none());
        health.apply(&EventKind::IntegrationUp {
            login: Some("kim".into()),
        });
        assert!(health.refused_logins.is_empty());
        assert_eq!(health.outages, 1);
    }
}
