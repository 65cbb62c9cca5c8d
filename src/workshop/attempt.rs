//! One attempt to book an order, in a task of its own: record it, book the
//! line through the ERP driver, keep evidence if it failed, record the
//! outcome. A panic costs that attempt (retried) and the browser (replaced).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::{file_stem, new_trace_id};
use crate::erp::{self, book_line, Credentials, OrderLine};
use crate::erp::{capture_evidence, BrowserSession};
use crate::event_log::{events::now_ms, Command, EventKind, EvidencePaths, OrderView};
use crate::order::{Booked, Failure, FailureKind};
use crate::telemetry::tracing_otel;

use super::intake::SealedLogin;
use super::worker::{sync_pidfile, WorkerCtx};

/// Runs one attempt in its own task; a panic there is a retryable failure.
pub(super) async fn run_isolated(
    ctx: &Arc<WorkerCtx>,
    session: Option<BrowserSession>,
    order: OrderView,
) -> BrowserSession {
    let mut session = session.unwrap_or_else(|| BrowserSession::new(ctx.settings.browser.clone()));
    let task_ctx = ctx.clone();
    let unique_id = order.unique_id.clone();
    ctx.state.busy.store(true, Ordering::Relaxed);
    ctx.state.busy_since_ms.store(now_ms(), Ordering::Relaxed);
    let handle = actix_rt::spawn(async move {
        attempt(&task_ctx, &mut session, order).await;
        session
    });
    let session = match handle.await {
        Ok(session) => session,
        Err(join_error) => {
            ctx.state.panics.fetch_add(1, Ordering::Relaxed);
            ctx.state.browser_restarts.fetch_add(1, Ordering::Relaxed);
            tracing::error!(unique_id = %unique_id, error = %join_error, "attempt panicked; browser replaced, order will be retried");
            record_panic(ctx, &unique_id).await;
            BrowserSession::new(ctx.settings.browser.clone())
        }
    };
    ctx.state.busy.store(false, Ordering::Relaxed);
    ctx.state.busy_since_ms.store(0, Ordering::Relaxed);
    session
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
    let Some(attempt) = start_attempt(ctx, &order.unique_id, &trace_id).await else {
        return;
    };
    tracing::Span::current().record("attempt", attempt);
    let started = Instant::now();
    let outcome = book(ctx, session, &order).await;
    let elapsed = started.elapsed();
    let mut evidence = EvidencePaths::default();
    if let Err(error) = &outcome {
        evidence = keep_evidence(ctx, session, &order.unique_id, attempt).await;
        if !error.is_final() {
            session.reset().await;
            ctx.state.browser_restarts.fetch_add(1, Ordering::Relaxed);
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

/// Records the start of an attempt; `None` if the order is no longer due.
async fn start_attempt(ctx: &WorkerCtx, unique_id: &str, trace_id: &str) -> Option<u32> {
    let command = Command::StartAttempt {
        unique_id: unique_id.to_string(),
        trace_id: Some(trace_id.to_string()),
    };
    match ctx.journal.execute(command).await {
        Ok(Ok(events)) => events.iter().find_map(|e| match e.kind {
            EventKind::Processing { attempt } => Some(attempt),
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

async fn book(
    ctx: &WorkerCtx,
    session: &mut BrowserSession,
    order: &OrderView,
) -> erp::Result<Booked> {
    let credentials = credentials(ctx, order).await?;
    if switches_login(ctx, &credentials) {
        // Another ERP user than the session's: start from a fresh browser.
        session.reset().await;
    }
    let data = order
        .order
        .as_ref()
        .ok_or_else(|| Failure::bad_input("order has no data"))?;
    let line = OrderLine {
        unique_id: order.unique_id.clone(),
        case_id: data.case_id.clone(),
        item_no: data.product_nr.clone(),
        amount: data.product_amount.clone(),
    };
    let settings = &ctx.settings;
    let work = async {
        session.driver().await?;
        sync_pidfile(ctx, session);
        let browser = session.driver().await?;
        book_line(
            settings.erp_type,
            browser,
            &settings.erp_url,
            &line,
            &credentials,
            settings.step_timeout,
        )
        .await
    };
    match tokio::time::timeout(settings.attempt_timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Failure::timeout(&format!(
            "attempt took longer than {} s",
            settings.attempt_timeout.as_secs()
        ))),
    }
}

/// Remembers `credentials` as the session's login; true if they differ from the last.
fn switches_login(ctx: &WorkerCtx, credentials: &Credentials) -> bool {
    let mut last = ctx
        .session_login
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let switched = last.as_ref().is_some_and(|l| l != credentials);
    *last = Some(credentials.clone());
    switched
}

/// The ERP login for this order: the integration's own, else the order's.
async fn credentials(ctx: &WorkerCtx, order: &OrderView) -> erp::Result<Credentials> {
    if let Some(own) = &ctx.settings.credentials {
        return Ok(own.clone());
    }
    let key = order
        .credentials_ref
        .as_deref()
        .ok_or_else(|| Failure::bad_input("order carried no credentials"))?;
    let sealed = ctx
        .journal
        .secret(key)
        .await
        .map_err(|e| Failure::new(FailureKind::Other, format!("credentials unreadable: {e}")))?
        .ok_or_else(|| Failure::bad_input("order's credentials are missing"))?;
    let context = super::intake::credentials_context(&ctx.settings.name, &order.unique_id);
    let plain = ctx
        .cipher
        .open(&sealed, &context)
        .map_err(Failure::bad_input)?;
    let login: SealedLogin =
        serde_json::from_slice(&plain).map_err(|_| Failure::bad_input("credentials unreadable"))?;
    Ok(Credentials {
        username: login.username,
        password: login.password,
    })
}

async fn keep_evidence(
    ctx: &WorkerCtx,
    session: &mut BrowserSession,
    unique_id: &str,
    attempt: u32,
) -> EvidencePaths {
    if !session.is_open() {
        return EvidencePaths::default();
    }
    let Ok(browser) = session.driver().await else {
        return EvidencePaths::default();
    };
    let stem = format!("{}-attempt{attempt}", file_stem(unique_id));
    let dir = ctx.settings.evidence_dir();
    let saved = capture_evidence(browser, &dir, &stem).await;
    super::evidence::prune(&dir, ctx.settings.evidence);
    let relative = |p: Option<std::path::PathBuf>| {
        p.map(|p| {
            p.strip_prefix(ctx.settings.dir())
                .map(|r| r.display().to_string())
                .unwrap_or_else(|_| p.display().to_string())
        })
    };
    EvidencePaths {
        screenshot: relative(saved.screenshot),
        page_source: relative(saved.page_source),
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
    let command = match outcome {
        Ok(booked) => {
            ctx.state.failing_streak.store(0, Ordering::Relaxed);
            ctx.state
                .timings
                .observe(&ctx.settings.name, "completed", elapsed);
            Command::Complete {
                unique_id,
                attempt,
                already_present: booked == Booked::AlreadyPresent,
                duration_ms,
                trace_id,
            }
        }
        Err(error) => {
            if error.is_final() {
                ctx.state.failing_streak.store(0, Ordering::Relaxed);
            } else {
                ctx.state.failing_streak.fetch_add(1, Ordering::Relaxed);
            }
            ctx.state
                .timings
                .observe(&ctx.settings.name, "failed", elapsed);
            Command::Fail {
                unique_id,
                attempt,
                failure: error,
                evidence,
                duration_ms,
                policy: ctx.settings.retry,
                now_ms: now_ms(),
                trace_id,
            }
        }
    };
    let received_ms = ctx.journal.views().order(order_id).map(|o| o.received_ms);
    match ctx.journal.execute(command).await {
        Ok(Ok(events)) => observe_final(&ctx.settings.name, &events, received_ms),
        Ok(Err(refusal)) => tracing::warn!(%refusal, "outcome not recorded"),
        // The order stays `processing` in the log and is retried; the driver's
        // reference check keeps that from booking it twice.
        Err(e) => {
            tracing::error!(error = %e, "cannot record the attempt's outcome; it will be retried")
        }
    }
}

/// Records the end-to-end duration of an order that reached its final status.
fn observe_final(workshop: &str, events: &[crate::event_log::Event], received_ms: Option<u64>) {
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
        crate::telemetry::steps::observe_order(workshop, outcome, elapsed);
    }
}
