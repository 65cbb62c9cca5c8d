//! The browser worker: takes the next due order from the queue, records the
//! attempt, books the line through the ERP driver in one reused browser
//! session, and records the outcome. Each attempt runs in a task of its own,
//! so a panic costs that attempt (retried) and the browser (replaced), never
//! the worker. The browser closes when idle or stopped.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::{oneshot, watch};

use super::queue::Queue;
use super::worker_loop::Worker;
use super::WorkshopSettings;
use crate::erp::{BrowserSession, Credentials};
use crate::event_log::{Command, Journal};
use crate::secrets::Cipher;
use crate::telemetry::metrics::AttemptTimings;

/// What the worker shares with the status desk and the metrics.
#[derive(Debug, Default)]
pub struct WorkerState {
    pub(super) running: AtomicBool,
    pub(super) busy: AtomicBool,
    pub(super) failing_streak: AtomicU32,
    /// Browser sessions replaced after a failure or a panic.
    pub browser_restarts: Arc<AtomicU64>,
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

/// The browser worker actor: carries the operator's messages to the
/// worker's loop ([`Worker`]), which owns the browser and runs in a task of
/// its own until its shutdown.
pub struct BrowserWorker {
    ctx: Arc<WorkerCtx>,
    desired: watch::Sender<bool>,
    running: Option<Running>,
}

/// The loop's task: how to stop it, and its end.
struct Running {
    shutdown: oneshot::Sender<()>,
    abort: tokio::task::AbortHandle,
    ended: tokio::task::JoinHandle<()>,
}

/// The loop panicked (outside an attempt, which has its own task): start
/// a new one.
#[derive(Message)]
#[rtype(result = "()")]
struct Respawn;

impl Handler<Respawn> for BrowserWorker {
    type Result = ();

    fn handle(&mut self, _: Respawn, ctx: &mut Self::Context) {
        tracing::error!(workshop = %self.ctx.settings.name, "worker loop ended unexpectedly; restarting it");
        self.spawn_loop(ctx);
    }
}

impl BrowserWorker {
    /// A worker that starts running if `run` (the operator's last choice).
    pub fn new(ctx: WorkerCtx, run: bool) -> Self {
        let (desired, _) = watch::channel(run);
        BrowserWorker {
            ctx: Arc::new(ctx),
            desired,
            running: None,
        }
    }

    /// Starts the loop; a panic of it comes back as [`Respawn`].
    fn spawn_loop(&mut self, ctx: &mut Context<Self>) {
        let (shutdown, stop) = oneshot::channel::<()>();
        let worker = Worker::new(self.ctx.clone(), self.desired.subscribe());
        let run = actix_rt::spawn(worker.run(async {
            let _ = stop.await;
        }));
        let abort = run.abort_handle();
        let me = ctx.address();
        let ended = actix_rt::spawn(async move {
            if let Err(e) = run.await {
                if e.is_panic() {
                    me.do_send(Respawn);
                }
            }
        });
        self.running = Some(Running {
            shutdown,
            abort,
            ended,
        });
    }
}

impl Actor for BrowserWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.spawn_loop(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(running) = self.running.take() {
            running.abort.abort();
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
        // The loop ends at once (an attempt in progress is aborted with its
        // task) and quits the browser; past the grace it is aborted too.
        let running = self.running.take();
        ctx.stop();
        Box::pin(async move {
            if let Some(Running {
                shutdown,
                abort,
                mut ended,
            }) = running
            {
                let _ = shutdown.send(());
                let grace = Duration::from_secs(10);
                if tokio::time::timeout(grace, &mut ended).await.is_err() {
                    abort.abort();
                    let _ = ended.await;
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

/// A browser session of this workshop (not started yet), whose restarts
/// count into the workshop's metric: the one place they are counted.
pub(super) fn new_session(ctx: &WorkerCtx) -> BrowserSession {
    BrowserSession::counted(
        ctx.settings.browser.clone(),
        ctx.state.browser_restarts.clone(),
    )
}

/// Keeps the workshop's record of its chromedriver group current (for a
/// restart after kill -9 to clean up).
pub(super) fn sync_pidfile(ctx: &WorkerCtx, session: &BrowserSession) {
    let pid = session.chromedriver_pid().unwrap_or(0);
    if ctx.recorded_pid.swap(pid, Ordering::Relaxed) != pid {
        super::leftovers::record(&ctx.settings.dir(), session.chromedriver_pid());
    }
}
