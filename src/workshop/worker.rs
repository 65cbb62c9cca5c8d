//! The browser worker: takes the next due order from the queue, records the
//! attempt, books the line through the ERP driver in one reused browser
//! session, and records the outcome. Each attempt runs in a task of its own,
//! so a panic costs that attempt (retried) and the browser (replaced), never
//! the worker. The browser closes when idle or stopped.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot, watch};

use super::queue::Queue;
use super::switch::{may_answer, Progress, Setting, Switch};
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
/// its own until its shutdown. The actor is the one owner of the on/off
/// switch: it numbers the start and stop calls in the order it takes them,
/// and the loop, `/alive` and the log all follow that order.
pub struct BrowserWorker {
    ctx: Arc<WorkerCtx>,
    switch: Switch,
    desired: watch::Sender<Setting>,
    progress: Arc<watch::Sender<Progress>>,
    records: mpsc::UnboundedSender<(u64, Command)>,
    recorder: Option<mpsc::UnboundedReceiver<(u64, Command)>>,
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
        let switch = Switch::new(run);
        let (desired, _) = watch::channel(switch.latest());
        let (progress, _) = watch::channel(Progress::default());
        let (records, recorder) = mpsc::unbounded_channel();
        BrowserWorker {
            ctx: Arc::new(ctx),
            switch,
            desired,
            progress: Arc::new(progress),
            records,
            recorder: Some(recorder),
            running: None,
        }
    }

    /// Starts the loop; a panic of it comes back as [`Respawn`].
    fn spawn_loop(&mut self, ctx: &mut Context<Self>) {
        let (shutdown, stop) = oneshot::channel::<()>();
        let worker = Worker::new(
            self.ctx.clone(),
            self.desired.subscribe(),
            self.progress.clone(),
        );
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

    /// Takes a start or stop call: it becomes the latest setting at once
    /// (the loop's, `/alive`'s) and goes to the log behind every call taken
    /// before it. Resolves once the call may be answered (see
    /// [`may_answer`]), or after an attempt's time at most.
    fn flip(&mut self, run: bool, by_operator: bool) -> impl Future<Output = bool> + 'static {
        let call = self.switch.flip(run);
        self.desired.send_replace(call);
        self.ctx.state.running.store(run, Ordering::Relaxed);
        let command = Command::Worker {
            running: run,
            by_operator,
        };
        if self.records.send((call.seq, command)).is_err() {
            tracing::warn!("the worker's recorder is gone; the setting is not recorded");
        }
        let mut progress = self.progress.subscribe();
        let within = self.ctx.settings.attempt_timeout + Duration::from_secs(10);
        async move {
            let answered = progress.wait_for(|p| may_answer(call, *p));
            if tokio::time::timeout(within, answered).await.is_err() {
                tracing::warn!(run, "the worker did not take up the setting in time");
            }
            run
        }
    }
}

impl Actor for BrowserWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.ctx
            .state
            .running
            .store(self.switch.latest().run, Ordering::Relaxed);
        if let Some(calls) = self.recorder.take() {
            let journal = self.ctx.journal.clone();
            actix_rt::spawn(record_in_order(journal, calls, self.progress.clone()));
        }
        self.spawn_loop(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(running) = self.running.take() {
            running.abort.abort();
        }
    }
}

/// Writes the switch's settings to the log one after the other, in the
/// order they were taken; ends when the actor is gone.
async fn record_in_order(
    journal: Journal,
    mut calls: mpsc::UnboundedReceiver<(u64, Command)>,
    progress: Arc<watch::Sender<Progress>>,
) {
    while let Some((seq, command)) = calls.recv().await {
        match journal.execute(command).await {
            Ok(Ok(_)) => {}
            Ok(Err(refusal)) => tracing::warn!(%refusal, "the worker's state was not recorded"),
            Err(e) => tracing::warn!(error = %e, "could not record the worker's state"),
        }
        progress.send_modify(|p| p.recorded = p.recorded.max(seq));
    }
}

/// Start taking orders; answers `true`.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct StartWorker {
    /// An operator asked (recorded; survives restarts).
    pub by_operator: bool,
}

/// Stop taking orders once the order in progress is done; answers `false`
/// once no new attempt can start (until a later start).
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
        Box::pin(self.flip(true, msg.by_operator))
    }
}

impl Handler<StopWorker> for BrowserWorker {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: StopWorker, _: &mut Self::Context) -> Self::Result {
        Box::pin(self.flip(false, msg.by_operator))
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
                // Short enough for `/kill` to end the process within 5 s.
                let grace = Duration::from_secs(2);
                if tokio::time::timeout(grace, &mut ended).await.is_err() {
                    abort.abort();
                    let _ = ended.await;
                }
            }
        })
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

/// Aborts a task when dropped: a task that must not outlive whoever waits
/// for it (an attempt, a probe).
pub(super) struct AbortOnDrop(pub(super) tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
