//! The workshop's periodic synthetic check: while the browser worker is idle,
//! it logs in afresh and opens the probe case in the worker's browser, saving
//! nothing, and keeps the outcome for the `oilmat_probe_*` metrics. A probe is
//! no order: it appends no event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::Instrument;

use super::worker::{new_session, sync_pidfile, AbortOnDrop, WorkerCtx};
use super::ProbeSettings;
use crate::erp::probe::{run_probe, ProbeReport, ProbeTarget};
use crate::erp::BrowserSession;
use crate::event_log::events::now_ms;
pub use crate::telemetry::metrics::ProbeOutcome;

/// The last probe's outcome, shared between the worker and the metrics.
#[derive(Debug, Default)]
pub struct LastProbe(Mutex<Option<ProbeOutcome>>);

impl LastProbe {
    /// The last outcome; `None` before the first probe.
    pub fn get(&self) -> Option<ProbeOutcome> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set(&self, outcome: ProbeOutcome) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(outcome);
    }
}

/// Runs one probe in its own task with the worker's browser (a panic there
/// is a failed probe and costs the browser); a browser opened only for the
/// probe is closed again. Gives the session back.
pub(super) async fn run(
    ctx: &Arc<WorkerCtx>,
    probe: &ProbeSettings,
    session: Option<BrowserSession>,
) -> BrowserSession {
    let settings = &ctx.settings;
    let mut session = session.unwrap_or_else(|| new_session(ctx));
    let was_open = session.is_open();
    let target = ProbeTarget {
        erp: settings.erp_type,
        base_url: settings.erp_url.clone(),
        creds: probe.credentials.clone(),
        case_id: probe.case_id.clone(),
        step_timeout: settings.step_timeout,
    };
    let deadline = settings.attempt_timeout;
    let span = tracing::info_span!("probe", workshop = %settings.name, case_id = %probe.case_id);
    let task_ctx = ctx.clone();
    let handle = actix_rt::spawn(
        async move {
            let report = run_probe(&mut session, &target, deadline).await;
            sync_pidfile(&task_ctx, &session);
            let broken = report.result.as_ref().is_err_and(|e| !e.is_final());
            if broken || !was_open {
                session.close().await;
                sync_pidfile(&task_ctx, &session);
            }
            log(&report);
            (session, outcome_of(&report))
        }
        .instrument(span),
    );
    // Like an attempt, the probe never outlives the loop that waits for it.
    let _abort = AbortOnDrop(handle.abort_handle());
    let (session, outcome) = match handle.await {
        Ok(done) => done,
        Err(join_error) => {
            tracing::error!(workshop = %settings.name, error = %join_error, "probe panicked; browser replaced");
            let outcome = ProbeOutcome {
                ok: false,
                at_ms: now_ms(),
                duration: Duration::ZERO,
                error: Some("probe panicked".into()),
            };
            (new_session(ctx), outcome)
        }
    };
    ctx.state.probe.set(outcome);
    // The browser is now logged in as the probe's user (or logged out): an
    // order of another ERP user must start from a fresh browser.
    *ctx.session_login
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(probe.credentials.clone());
    session
}

fn outcome_of(report: &ProbeReport) -> ProbeOutcome {
    ProbeOutcome {
        ok: report.is_ok(),
        at_ms: now_ms(),
        duration: report.duration,
        error: report.result.as_ref().err().map(|e| e.reason().to_string()),
    }
}

/// One line per probe; its steps at debug.
fn log(report: &ProbeReport) {
    let ms = report.duration.as_millis() as u64;
    match &report.result {
        Ok(()) => tracing::info!(ms, "probe ok"),
        Err(e) => tracing::warn!(ms, reason = e.reason(), "probe failed"),
    }
    tracing::debug!("probe steps:\n{report}");
}
