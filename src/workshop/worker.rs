//! The browser worker: takes the next due order from the queue, records the
//! attempt, books the line through the ERP driver in one reused browser
//! session, and records the outcome. Each attempt runs in a task of its own,
//! so a panic costs that attempt (retried) and the browser (replaced), never
//! the worker. The browser closes when idle or stopped.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::watch;
use tracing::Instrument;

use super::queue::{Next, NextOrder, Queue};
use super::{new_trace_id, WorkshopSettings};
use crate::erp::BrowserSession;
use crate::erp::{self, Credentials};
use crate::event_log::{events::now_ms, Command, EventKind, EvidencePaths, Journal, OrderView};
use crate::order::{Booked, Failure, FailureKind};
use crate::secrets::Cipher;
use crate::telemetry::metrics::AttemptTimings;
use crate::telemetry::tracing_otel;

/// What the worker shares with the status desk and the metrics.
#[derive(Debug, Default)]
pub struct WorkerState {
    running: AtomicBool,
    busy: AtomicBool,
    failing_streak: AtomicU32,
    /// Browser sessions replaced after a failure or a panic.
    pub browser_restarts: AtomicU64,
    /// Attempts whose task panicked.
    pub panics: AtomicU64,
    /// When the current attempt started (ms since epoch), 0 when idle.
    pub busy_since_ms: AtomicU64,
    /// Attempt durations by outcome.
    pub timings: AttemptTimings,
    /// How the last synthetic check went (none before the first, or when off).
    pub probe: super::probe::LastProbe,
}

impl WorkerState {
    /// True while the worker takes orders.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// True when the last attempts failed for reasons not of the order's making.
    pub fn is_failing(&self) -> bool {
        self.failing_streak.load(Ordering::Relaxed) >= 3
    }

    /// True while an attempt runs.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }
}

/// What the worker loop needs; shared with each attempt's task.
pub struct WorkerCtx {
    /// The workshop's settings.
    pub settings: WorkshopSettings,
    /// Its journal.
    pub journal: Journal,
    /// Its queue.
    pub queue: Addr<Queue>,
    /// Opens the credentials orders carry.
    pub cipher: Cipher,
    /// Shared state.
    pub state: Arc<WorkerState>,
    /// The login the browser session last used (in memory only).
    pub session_login: std::sync::Mutex<Option<Credentials>>,
    /// The chromedriver pid last written to the workshop's pid file (0: none).
    pub recorded_pid: AtomicU32,
}

/// The browser worker actor.
pub struct BrowserWorker {
    ctx: Arc<WorkerCtx>,
    desired: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl BrowserWorker {
    /// A worker that starts running if `run` (the operator's last choice).
    pub fn new(ctx: WorkerCtx, run: bool) -> Self {
        let (desired, _) = watch::channel(run);
        BrowserWorker {
            ctx: Arc::new(ctx),
            desired,
            task: None,
        }
    }

    fn spawn_loop(&mut self) {
        let ctx = self.ctx.clone();
        let desired = self.desired.subscribe();
        self.task = Some(actix_rt::spawn(run_loop(ctx, desired)));
    }
}

impl Actor for BrowserWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.spawn_loop();
        // Supervision: a loop that ended without being told to is started again.
        ctx.run_interval(Duration::from_secs(1), |this, _| {
            if this.task.as_ref().is_some_and(|t| t.is_finished()) {
                tracing::error!(workshop = %this.ctx.settings.name, "worker loop ended unexpectedly; restarting it");
                this.ctx.state.browser_restarts.fetch_add(1, Ordering::Relaxed);
                this.spawn_loop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Start taking orders; answers `true`.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct StartWorker {
    /// An operator asked (recorded; survives restarts).
    pub by_operator: bool,
}

/// Stop taking orders once the order in progress is done; answers `false`.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct StopWorker {
    /// An operator asked (recorded; survives restarts).
    pub by_operator: bool,
}

/// Stop at once for shutdown: the order in progress is put back (it stays
/// `processing` in the log and is retried at the next start), the browser closes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<StartWorker> for BrowserWorker {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: StartWorker, _: &mut Self::Context) -> Self::Result {
        self.desired.send_replace(true);
        let journal = self.ctx.journal.clone();
        Box::pin(async move {
            record_worker(&journal, true, msg.by_operator).await;
            true
        })
    }
}

impl Handler<StopWorker> for BrowserWorker {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: StopWorker, _: &mut Self::Context) -> Self::Result {
        self.desired.send_replace(false);
        let ctx = self.ctx.clone();
        Box::pin(async move {
            let deadline = Instant::now() + ctx.settings.attempt_timeout + Duration::from_secs(10);
            while ctx.state.is_busy() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            record_worker(&ctx.journal, false, msg.by_operator).await;
            false
        })
    }
}

impl Handler<Shutdown> for BrowserWorker {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) -> Self::Result {
        self.desired.send_replace(false);
        let task = self.task.take();
        ctx.stop();
        Box::pin(async move {
            if let Some(task) = task {
                task.abort();
                let _ = task.await;
            }
        })
    }
}

async fn record_worker(journal: &Journal, running: bool, by_operator: bool) {
    let command = Command::Worker {
        running,
        by_operator,
    };
    if let Err(e) = journal.execute(command).await {
        tracing::warn!(error = %e, "could not record the worker's state");
    }
}

/// The worker's life: book due orders while wanted; close the browser when idle.
async fn run_loop(ctx: Arc<WorkerCtx>, mut desired: watch::Receiver<bool>) {
    let mut session = Some(BrowserSession::new(ctx.settings.browser.clone()));
    let mut appended = ctx.journal.subscribe();
    let mut last_used = Instant::now();
    // The first probe as soon as the worker is idle, so the metric shows early.
    let mut probe_due = ctx.settings.probe.as_ref().map(|_| Instant::now());
    loop {
        if !*desired.borrow_and_update() {
            ctx.state.running.store(false, Ordering::Relaxed);
            close_browser(&ctx, &mut session).await;
            if desired.changed().await.is_err() {
                return;
            }
            continue;
        }
        ctx.state.running.store(true, Ordering::Relaxed);
        let next = match ctx.queue.send(NextOrder).await {
            Ok(next) => next,
            Err(_) => return,
        };
        let wait_until = match next {
            Next::Ready(order) => {
                session = Some(run_isolated(&ctx, session.take(), *order).await);
                last_used = Instant::now();
                continue;
            }
            Next::WaitUntil(at) => Some(at),
            Next::Empty => None,
        };
        if let (Some(probe), Some(due)) = (&ctx.settings.probe, probe_due) {
            if due <= Instant::now() {
                session = Some(super::probe::run(&ctx, probe, session.take()).await);
                probe_due = Some(Instant::now() + probe.interval);
                continue;
            }
        }
        let mut nap = wait_until
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms())))
            .unwrap_or(Duration::from_secs(3600));
        if session.as_ref().is_some_and(BrowserSession::is_open) {
            nap = nap.min(ctx.settings.idle_close.saturating_sub(last_used.elapsed()));
        }
        if let Some(due) = probe_due {
            nap = nap.min(due.saturating_duration_since(Instant::now()));
        }
        tokio::select! {
            _ = desired.changed() => {}
            _ = appended.changed() => {}
            _ = tokio::time::sleep(nap) => {
                if last_used.elapsed() >= ctx.settings.idle_close {
                    close_browser(&ctx, &mut session).await;
                }
            }
        }
    }
}

async fn close_browser(ctx: &WorkerCtx, session: &mut Option<BrowserSession>) {
    if let Some(s) = session.as_mut() {
        if s.is_open() {
            tracing::info!("closing the browser");
        }
        s.close().await;
        sync_pidfile(ctx, s);
    }
}

/// Keeps the workshop's record of its chromedriver group current (for a
/// restart after kill -9 to clean up).
pub(super) fn sync_pidfile(ctx: &WorkerCtx, session: &BrowserSession) {
    let pid = session.chromedriver_pid().unwrap_or(0);
    if ctx.recorded_pid.swap(pid, Ordering::Relaxed) != pid {
        super::leftovers::record(&ctx.settings.dir(), session.chromedriver_pid());
    }
}

/// Runs one attempt in its own task; a panic there is a retryable failure.
async fn run_isolated(
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
    tracing_otel::continue_trace(&span, &trace_id, None);
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
            } else if error.kind == FailureKind::Unsettled {
                // Only looked; says nothing about the ERP's health.
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
