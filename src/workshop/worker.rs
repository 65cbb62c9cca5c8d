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

use super::attempt::run_isolated;
use super::queue::{Next, NextOrder, Queue};
use super::WorkshopSettings;
use crate::erp::{BrowserSession, Credentials};
use crate::event_log::{events::now_ms, Command, Journal};
use crate::secrets::Cipher;
use crate::telemetry::metrics::AttemptTimings;

/// What the worker shares with the status desk and the metrics.
#[derive(Debug, Default)]
pub struct WorkerState {
    running: AtomicBool,
    pub(super) busy: AtomicBool,
    pub(super) failing_streak: AtomicU32,
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
    /// When the integration is down and when it is checked next.
    pub breaker: std::sync::Mutex<super::breaker::Breaker>,
    /// Wakes the loop for a reachability check now (`erp/check`).
    pub check_now: tokio::sync::Notify,
    /// Counts the reachability checks done (what `erp/check` waits for).
    pub checks: watch::Sender<u64>,
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

/// Run a reachability check now (design.md rule 6) and answer once it is
/// done (or the worker did not get to it within an attempt's time).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CheckErp;

impl Handler<CheckErp> for BrowserWorker {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: CheckErp, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        let mut done = ctx.checks.subscribe();
        done.mark_unchanged();
        ctx.check_now.notify_one();
        Box::pin(async move {
            let within = ctx.settings.attempt_timeout + Duration::from_secs(30);
            let _ = tokio::time::timeout(within, done.changed()).await;
        })
    }
}

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
        // Without a sender the idle loop closes the browser (quits the
        // session) and ends; one in an attempt is stopped at once.
        drop(std::mem::replace(
            &mut self.desired,
            watch::channel(false).0,
        ));
        let busy = self.ctx.state.is_busy();
        let task = self.task.take();
        ctx.stop();
        Box::pin(async move {
            if let Some(mut task) = task {
                let grace = Duration::from_secs(10);
                if busy || tokio::time::timeout(grace, &mut task).await.is_err() {
                    task.abort();
                    let _ = task.await;
                }
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
    // While the ERP refuses some orders' logins (single-workshop mode), those
    // logins are tried again on the check schedule.
    let mut login_check: Option<Instant> = None;
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
        if let Some(due) = super::outage::next_check(&ctx) {
            // Down: no orders are taken; the check runs on its schedule.
            super::outage::give_up_old_orders(&ctx).await;
            let checked = tokio::select! {
                _ = desired.changed() => false,
                _ = ctx.check_now.notified() => true,
                _ = tokio::time::sleep_until(due.into()) => true,
            };
            if checked {
                session = Some(run_check(&ctx, session.take()).await);
                last_used = Instant::now();
            }
            continue;
        }
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
        login_check = super::outage::refused_login_check(&ctx, login_check);
        if let Some(due) = login_check {
            if due <= Instant::now() {
                session = Some(run_check(&ctx, session.take()).await);
                last_used = Instant::now();
                login_check = None;
                continue;
            }
            nap = nap.min(due.saturating_duration_since(Instant::now()));
        }
        tokio::select! {
            _ = desired.changed() => {}
            _ = appended.changed() => {}
            _ = ctx.check_now.notified() => {
                session = Some(run_check(&ctx, session.take()).await);
                last_used = Instant::now();
            }
            _ = tokio::time::sleep(nap) => {
                if last_used.elapsed() >= ctx.settings.idle_close {
                    close_browser(&ctx, &mut session).await;
                }
            }
        }
    }
}

/// A reachability check in the worker's browser; tells whoever waits for it.
async fn run_check(ctx: &WorkerCtx, session: Option<BrowserSession>) -> BrowserSession {
    let mut session = session.unwrap_or_else(|| BrowserSession::new(ctx.settings.browser.clone()));
    super::outage::check(ctx, &mut session).await;
    ctx.checks.send_modify(|n| *n += 1);
    session
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
