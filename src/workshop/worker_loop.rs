//! The worker's loop, one owner of it: a [`Worker`] holds the browser
//! session and its schedules and runs until its shutdown future resolves.
//! Each turn it books the next due order (a pure pick from the views, see
//! [`super::queue::next_due`]), or checks the ERP while the integration is
//! down, or runs the synthetic probe, or sleeps until something is due.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::attempt::run_isolated;
use super::queue::{Next, NextOrder};
use super::switch::{Progress, Setting};
use super::worker::{new_session, sync_pidfile, WorkerCtx};
use crate::erp::BrowserSession;
use crate::event_log::events::now_ms;

/// The worker's loop and what it owns.
pub(super) struct Worker {
    ctx: Arc<WorkerCtx>,
    desired: watch::Receiver<Setting>,
    progress: Arc<watch::Sender<Progress>>,
    session: Option<BrowserSession>,
    last_used: Instant,
    probe_due: Option<Instant>,
    login_check: Option<Instant>,
}

/// What a turn of the loop found to do next.
enum Turn {
    /// Go round again at once.
    Again,
    /// Nothing due before this long (or a wake-up).
    Sleep(Duration),
    /// The loop cannot go on (the queue is gone).
    End,
}

impl Worker {
    /// A worker for `ctx` that runs while `desired` says so; it tells
    /// `progress` each setting it takes up between attempts.
    pub(super) fn new(
        ctx: Arc<WorkerCtx>,
        desired: watch::Receiver<Setting>,
        progress: Arc<watch::Sender<Progress>>,
    ) -> Worker {
        let session = Some(new_session(&ctx));
        // The first probe as soon as the worker is idle, so the metric shows early.
        let probe_due = ctx.settings.probe.as_ref().map(|_| Instant::now());
        Worker {
            ctx,
            desired,
            progress,
            session,
            last_used: Instant::now(),
            probe_due,
            login_check: None,
        }
    }

    /// Books due orders while wanted until `shutdown` resolves; then quits
    /// the browser. An attempt cut short by the shutdown is aborted with its
    /// task (it stays `processing` in the log and is retried at the next
    /// start; the reference check keeps it from booking twice).
    pub(super) async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::select! {
            _ = shutdown => {}
            _ = self.serve() => {}
        }
        self.ctx.state.running.store(false, Ordering::Relaxed);
        self.close_browser().await;
    }

    async fn serve(&mut self) {
        let mut appended = self.ctx.journal.subscribe();
        loop {
            // No attempt runs here: the latest setting is taken up (a stop
            // is answered from now on; nothing starts until a later start).
            let setting = *self.desired.borrow_and_update();
            self.take_up(setting);
            if !setting.run {
                self.close_browser().await;
                if self.desired.changed().await.is_err() {
                    return;
                }
                continue;
            }
            let nap = match self.turn().await {
                Turn::Again => continue,
                Turn::Sleep(nap) => nap,
                Turn::End => return,
            };
            tokio::select! {
                _ = self.desired.changed() => {}
                _ = appended.changed() => {}
                _ = self.ctx.check_now.notified() => self.check().await,
                _ = tokio::time::sleep(nap) => {
                    if self.last_used.elapsed() >= self.ctx.settings.idle_close {
                        self.close_browser().await;
                    }
                }
            }
        }
    }

    /// Tells the switch that the loop follows `setting` now.
    fn take_up(&self, setting: Setting) {
        self.progress.send_if_modified(|p| {
            let newer = p.taken_up < setting.seq;
            p.taken_up = p.taken_up.max(setting.seq);
            newer
        });
    }

    /// One turn: the ERP check while down, else the next order, the probe,
    /// a refused login's check, or how long to sleep.
    async fn turn(&mut self) -> Turn {
        if let Some(due) = super::outage::next_check(&self.ctx) {
            return self.while_down(due).await;
        }
        let next = match self.ctx.queue.send(NextOrder).await {
            Ok(next) => next,
            Err(_) => return Turn::End,
        };
        let wait_until = match next {
            Next::Ready(order) => {
                if !self.desired.borrow().run {
                    // Stopped since the loop looked: take nothing new.
                    return Turn::Again;
                }
                let session = self.session.take();
                self.session = Some(run_isolated(&self.ctx, session, *order).await);
                self.last_used = Instant::now();
                return Turn::Again;
            }
            Next::WaitUntil(at) => Some(at),
            Next::Empty => None,
        };
        if self.probe_now().await || self.login_check_now().await {
            return Turn::Again;
        }
        Turn::Sleep(self.nap(wait_until))
    }

    /// Down: no orders are taken; orders past their maximum age fail; the
    /// check runs when due (or when asked for).
    async fn while_down(&mut self, due: Instant) -> Turn {
        super::outage::give_up_old_orders(&self.ctx).await;
        let checked = tokio::select! {
            _ = self.desired.changed() => false,
            _ = self.ctx.check_now.notified() => true,
            _ = tokio::time::sleep_until(due.into()) => true,
        };
        if checked {
            self.check().await;
        }
        Turn::Again
    }

    /// Runs the synthetic probe if it is due.
    async fn probe_now(&mut self) -> bool {
        let (Some(probe), Some(due)) = (&self.ctx.settings.probe, self.probe_due) else {
            return false;
        };
        if due > Instant::now() {
            return false;
        }
        let session = self.session.take();
        self.session = Some(super::probe::run(&self.ctx, probe, session).await);
        self.probe_due = Some(Instant::now() + probe.interval);
        true
    }

    /// Tries a refused login again on the check schedule.
    async fn login_check_now(&mut self) -> bool {
        self.login_check = super::outage::refused_login_check(&self.ctx, self.login_check);
        match self.login_check {
            Some(due) if due <= Instant::now() => {
                self.check().await;
                self.login_check = None;
                true
            }
            _ => false,
        }
    }

    /// How long nothing is due: the next retry, the idle close, the probe,
    /// a refused login's check.
    fn nap(&self, wait_until: Option<u64>) -> Duration {
        let now = Instant::now();
        let mut nap = wait_until
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms())))
            .unwrap_or(Duration::from_secs(3600));
        if self.session.as_ref().is_some_and(BrowserSession::is_open) {
            let idle = self.ctx.settings.idle_close;
            nap = nap.min(idle.saturating_sub(self.last_used.elapsed()));
        }
        for due in [self.probe_due, self.login_check].into_iter().flatten() {
            nap = nap.min(due.saturating_duration_since(now));
        }
        nap
    }

    /// A reachability check in the worker's browser; tells whoever waits.
    async fn check(&mut self) {
        let session = self.session.take();
        let mut session = session.unwrap_or_else(|| new_session(&self.ctx));
        super::outage::check(&self.ctx, &mut session).await;
        self.session = Some(session);
        self.last_used = Instant::now();
        self.ctx.checks.send_modify(|n| *n += 1);
    }

    async fn close_browser(&mut self) {
        if let Some(s) = self.session.as_mut() {
            if s.is_open() {
                tracing::info!("closing the browser");
            }
            s.close().await;
            sync_pidfile(&self.ctx, s);
        }
    }
}
