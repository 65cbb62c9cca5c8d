//! `GET /integrations`: each workshop's health, asked without the host's
//! lock held and answered within [`ANSWER_WITHIN`] or listed as
//! `"state": "unresponsive"`, so one hung workshop holds up no other.

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::{validate, Integration};
use crate::config::IntegrationConfig;
use crate::workshop::status::{ErpState, GetHealth, Health};
use crate::workshop::Workshop;

/// How long one workshop has to answer the overview.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The health overview of one integration, as `GET /integrations` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// Its name.
    pub workshop: String,
    /// Its ERP type.
    pub erp_type: Option<String>,
    /// Configured to run.
    pub active: bool,
    /// `running` or `stopped`.
    pub api: &'static str,
    /// `running`, `stopped` or `failing`.
    pub worker: &'static str,
    /// Its API port.
    pub port: Option<u16>,
    /// Its API accepts `/create` without a key on a non-loopback address
    /// (`allow_anonymous_create = true`).
    pub anonymous_create: bool,
    /// Queue lengths.
    pub queue: QueueSizes,
    /// When an order last completed (RFC 3339).
    pub last_completed_at: Option<String>,
    /// The last final failure, or why the integration could not start.
    pub last_error: Option<String>,
    /// The ERP's health, as `/alive` shows it (absent while not running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erp: Option<ErpState>,
}

/// Task and error queue lengths.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueSizes {
    /// Orders waiting or in progress.
    pub task: usize,
    /// Orders failed for good.
    pub error: usize,
}

/// What the host knows of an integration, copied out under its lock.
pub(super) struct Seen {
    name: String,
    config: IntegrationConfig,
    workshop: Option<Workshop>,
    api_running: bool,
    last_error: Option<String>,
}

impl Seen {
    pub(super) fn of(name: &str, integration: &Integration) -> Seen {
        Seen {
            name: name.to_string(),
            config: integration.config.clone(),
            workshop: integration.workshop.clone(),
            api_running: integration.api.is_some(),
            last_error: integration.last_error.clone(),
        }
    }

    /// The overview, asking the workshop for its health (within [`ANSWER_WITHIN`]).
    pub(super) async fn answer(self) -> Value {
        let health: Option<Health> = match &self.workshop {
            Some(ws) => {
                let asked = ws.actors.status.send(GetHealth);
                match tokio::time::timeout(ANSWER_WITHIN, asked).await {
                    Ok(answer) => answer.ok(),
                    Err(_) => {
                        tracing::warn!(workshop = %self.name, "no health answer within 2 s: listed as unresponsive");
                        return json!({"workshop": self.name, "state": "unresponsive"});
                    }
                }
            }
            None => None,
        };
        serde_json::to_value(self.overview(health)).unwrap_or_default()
    }

    fn overview(self, health: Option<Health>) -> Overview {
        let worker = match &health {
            Some(h) if h.worker_failing => "failing",
            Some(h) if h.worker_running => "running",
            _ => "stopped",
        };
        let c = &self.config;
        let anonymous_create = c.allow_anonymous_create == Some(true)
            && !validate::listen_address(c).is_loopback()
            && c.api_key.as_ref().is_none_or(|k| k.expose().is_empty());
        Overview {
            workshop: self.name.clone(),
            erp_type: c.erp_type.clone(),
            active: c.active.unwrap_or(true),
            api: if self.api_running {
                "running"
            } else {
                "stopped"
            },
            worker,
            port: c.port,
            anonymous_create,
            queue: health
                .as_ref()
                .map(|h| QueueSizes {
                    task: h.task,
                    error: h.error,
                })
                .unwrap_or_default(),
            last_completed_at: health
                .as_ref()
                .and_then(|h| h.last_completed_ms)
                .map(crate::event_log::events::rfc3339),
            erp: health.as_ref().map(|h| h.erp.clone()),
            last_error: self
                .last_error
                .clone()
                .or_else(|| health.and_then(|h| h.last_error)),
        }
    }
}
