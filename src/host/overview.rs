//! The health overview of an integration, as `GET /integrations` shows it.

use serde::Serialize;

use super::Integration;
use crate::workshop::status::{ErpState, GetHealth, Health};

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

pub(super) async fn overview(name: &str, integration: &Integration) -> Overview {
    let health: Option<Health> = match &integration.workshop {
        Some(ws) => ws.actors.status.send(GetHealth).await.ok(),
        None => None,
    };
    let worker = match &health {
        Some(h) if h.worker_failing => "failing",
        Some(h) if h.worker_running => "running",
        _ => "stopped",
    };
    let c = &integration.config;
    Overview {
        workshop: name.to_string(),
        erp_type: c.erp_type.clone(),
        active: c.active.unwrap_or(true),
        api: if integration.api.is_some() {
            "running"
        } else {
            "stopped"
        },
        worker,
        port: c.port,
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
        last_error: integration
            .last_error
            .clone()
            .or_else(|| health.and_then(|h| h.last_error)),
    }
}
