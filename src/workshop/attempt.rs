//! One attempt to book an order, in a task of its own: record it, book the
//! line through the ERP driver, keep evidence if it failed, record the
//! outcome. A panic costs that attempt (retried) and the browser (replaced).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::new_trace_id;
use crate::erp::{self, BrowserSession};
use crate::event_log::{events::now_ms, Command, EventKind, EvidencePaths, OrderView};
use crate::order::{Booked, Failure, FailureKind};
use crate::telemetry::events::{AttemptFinished, OrderFinished};
use crate::telemetry::tracing_otel;

use super::worker::{new_session, sync_pidfile, AbortOnDrop, WorkerCtx};

/// Runs one attempt in its own task; a panic there is a retryable failure.
pub(super) async fn run_isolated(
    ctx: &Arc<WorkerCtx>,
    session: Option<BrowserSession>,
    order: OrderView,
) -> BrowserSession {
    let mut session = session.unwrap_or_else(|| new_session(ctx));
    let task_ctx = ctx.clone();
    let unique_id = order.unique_id.clone();
    let _busy = Busy::start(ctx);
    let handle = actix_rt::spawn(async move {
        attempt(&task_ctx, &mut session, order).await;
        session
    });
    // The attempt never outlives the loop that waits for it (a shutdown, a
    // restart of the workshop): dropping the wait aborts the task.
    let _abort = AbortOnDrop(handle.abort_handle());
    let session = match handle.await {
        Ok(session) => session,
        Err(join_error) => {
            ctx.state.panics.fetch_add(1, Ordering::Relaxed);
            tracing::error!(unique_id = %unique_id, error = %join_error, "attempt panicked; browser replaced, order will be retried");
            record_panic(ctx, &unique_id).await;
            // The panicked task took the session with it: a replacement,
            // counted as a restart.
            let mut session = new_session(ctx);
            session.reset().await;
            session
        }
    };
    session
}

/// Marks the worker busy while an attempt runs, however it ends.
struct Busy<'a>(&'a WorkerCtx);

impl<'a> Busy<'a> {
    fn start(ctx: &'a WorkerCtx) -> Busy<'a> {
        ctx.state.busy.store(true, Ordering::Relaxed);
        ctx.state.busy_since_ms.store(now_ms(), Ordering::Relaxed);
        Busy(ctx)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.state.busy.store(false, Ordering::Relaxed);
        self.0.state.busy_since_ms.store(0, Ordering::Relaxed);
    }
}

async fn record_panic(ctx: &WorkerCtx, unique_id: &str) {
    let attempt = ctx.journal.views().order(unique_id).map(|o| o.attempt);
    if let Some(attempt) = attempt {
        let outcome = Err(Failure::new(FailureKind::Other, "worker panicked"));
        record_outcome(
            ctx,
            unique_id,
            attempt,
            None,
            outcome,
            Duration::ZERO,
            EvidencePaths::default(),
        )
        .await;
    }
}

/// One attempt, in a span of the order's trace (the trace id its events carry).
async fn attempt(ctx: &WorkerCtx, session: &mut BrowserSession, order: OrderView) {
    let trace_id = order.trace_id.clone().unwrap_or_else(new_trace_id);
    let span = tracing::info_span!(
        "attempt",
        workshop = %ctx.settings.name,
        unique_id = %order.unique_id,
        trace_id = %trace_id,
        attempt = tracing::field::Empty,
    );
    tracing_otel::continue_trace(&span, &trace_id, order.span_id.as_deref());
    run_attempt(ctx, session, order, trace_id)
        .instrument(span)
        .await;
}

/// Records the attempt, books the line, keeps evidence if it failed, records the outcome.
async fn run_attempt(
    ctx: &WorkerCtx,
    session: &mut BrowserSession,
    order: OrderView,
    trace_id: String,
) {
    let Some((attempt, may_add)) = start_attempt(ctx, &order.unique_id, &trace_id).await else {
        return;
    };
    tracing::Span::current().record("attempt", attempt);
    let started = Instant::now();
    let booking = super::booking::Attempt {
        order: &order,
        attempt,
        may_add,
        trace_id: &trace_id,
    };
    let outcome = super::booking::book(ctx, session, booking).await;
    let elapsed = started.elapsed();
    let mut evidence = EvidencePaths::default();
    // A look that found no line while a save settles is no fault: no
    // evidence, and the browser stays.
    let fault = outcome.as_ref().err();
    if let Some(error) = fault.filter(|e| e.kind != FailureKind::Unsettled) {
        evidence = super::booking::keep_evidence(ctx, session, &order.unique_id, attempt).await;
        if !error.is_final() {
            session.reset().await;
            sync_pidfile(ctx, session);
        }
    }
    record_outcome(
        ctx,
        &order.unique_id,
        attempt,
        Some(trace_id),
        outcome,
        elapsed,
        evidence,
    )
    .await;
}

/// Records the start of an attempt: its number and whether it may add the
/// line; `None` if the order is no longer due.
async fn start_attempt(ctx: &WorkerCtx, unique_id: &str, trace_id: &str) -> Option<(u32, bool)> {
    let command = Command::StartAttempt {
        unique_id: unique_id.to_string(),
        trace_id: Some(trace_id.to_string()),
        now_ms: now_ms(),
        policy: ctx.settings.retry,
    };
    match ctx.journal.execute(command).await {
        Ok(Ok(events)) => events.iter().find_map(|e| match e.kind {
            EventKind::Processing { attempt, may_add } => Some((attempt, may_add)),
            _ => None,
        }),
        Ok(Err(refusal)) => {
            tracing::debug!(?refusal, "order no longer due");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot record the attempt; waiting for the log");
            tokio::time::sleep(Duration::from_secs(1)).await;
            None
        }
    }
}

async fn record_outcome(
    ctx: &WorkerCtx,
    unique_id: &str,
    attempt: u32,
    trace_id: Option<String>,
    outcome: erp::Result<Booked>,
    elapsed: Duration,
    evidence: EvidencePaths,
) {
    let duration_ms = elapsed.as_millis() as u64;
    let (unique_id, order_id) = (unique_id.to_string(), unique_id);
    let order = ctx.journal.views().order(order_id).map(|o| o.into_owned());
    let command = match outcome {
        Ok(booked) => {
            super::outage::on_success(ctx);
            ctx.state.failing_streak.store(0, Ordering::Relaxed);
            let event = AttemptFinished {
                workshop: &ctx.settings.name,
                unique_id: order_id,
                attempt,
                outcome: "completed",
                kind: None,
                elapsed,
            };
            event.emit(&ctx.state.timings);
            Command::Complete {
                unique_id,
                attempt,
                already_present: booked == Booked::AlreadyPresent,
                duration_ms,
                trace_id,
            }
        }
        Err(error) => {
            let charge = super::outage::charge_for(ctx, order.as_ref(), attempt, &error).await;
            if error.is_final() {
                ctx.state.failing_streak.store(0, Ordering::Relaxed);
            } else if error.kind == FailureKind::Unsettled {
                // Only looked; says nothing about the ERP's health.
            } else {
                ctx.state.failing_streak.fetch_add(1, Ordering::Relaxed);
            }
            let event = AttemptFinished {
                workshop: &ctx.settings.name,
                unique_id: order_id,
                attempt,
                outcome: "failed",
                kind: Some(error.kind.as_str()),
                elapsed,
            };
            event.emit(&ctx.state.timings);
            Command::Fail {
                unique_id,
                attempt,
                failure: error,
                evidence,
                duration_ms,
                policy: ctx.settings.retry,
                now_ms: now_ms(),
                trace_id,
                charge,
            }
        }
    };
    let received_ms = order.as_ref().map(|o| o.received_ms);
    match ctx.journal.execute(command).await {
        Ok(Ok(events)) => order_finished(&ctx.settings.name, &events, received_ms),
        Ok(Err(refusal)) => tracing::warn!(%refusal, "outcome not recorded"),
        // The order stays `processing` in the log and is retried; the driver's
        // reference check keeps that from booking it twice.
        Err(e) => {
            tracing::error!(error = %e, "cannot record the attempt's outcome; it will be retried")
        }
    }
}

/// Tells telemetry of an order that reached its final status.
fn order_finished(workshop: &str, events: &[crate::event_log::Event], received_ms: Option<u64>) {
    let Some(received_ms) = received_ms else {
        return;
    };
    for event in events {
        let outcome = match &event.kind {
            EventKind::Completed { .. } => "completed",
            EventKind::Failed { is_final: true, .. } => "failed",
            _ => continue,
        };
        let elapsed = Duration::from_millis(event.ts_ms.saturating_sub(received_ms));
        let unique_id = event.unique_id.as_deref().unwrap_or_default();
        OrderFinished {
            workshop,
            unique_id,
            outcome,
            elapsed,
        }
        .emit();
    }
}
