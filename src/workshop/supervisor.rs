//! The workshop supervisor: opens the workshop's log, starts its actors on an
//! arbiter (thread) of its own, so a busy or stuck workshop touches no other,
//! and stops them in order.

use std::sync::Arc;

use actix::prelude::*;

use super::intake::{Intake, IntakeDesk};
use super::queue::Queue;
use super::status::StatusDesk;
use super::worker::{BrowserWorker, Shutdown, WorkerCtx, WorkerState};
use super::{Actors, WorkshopSettings};
use crate::event_log::{self, Journal};
use crate::secrets::Cipher;

/// A running workshop integration.
#[derive(Clone)]
pub struct Workshop {
    /// Its settings.
    pub settings: WorkshopSettings,
    /// Its actors.
    pub actors: Actors,
    journal: Journal,
    arbiter: actix::ArbiterHandle,
}

/// Opens the workshop's log (taking its folder's lock) and starts its actors.
pub fn start(settings: WorkshopSettings, cipher: Cipher) -> event_log::Result<Workshop> {
    super::validate_name(&settings.name).map_err(event_log::Error::NotWritable)?;
    let journal = Journal::open(&settings.dir())?;
    super::leftovers::reap(&settings.dir());
    super::evidence::prune(&settings.evidence_dir(), settings.evidence);
    let arbiter = Arbiter::new().handle();
    let state = Arc::new(WorkerState::default());
    let run = journal.views().worker_wanted;
    // `/alive` answers from the start as the log left the switch, before
    // the worker's actor has started on its thread.
    state
        .running
        .store(run, std::sync::atomic::Ordering::Relaxed);
    let name = settings.name.clone();
    let has_own = settings.credentials.is_some();

    let j = journal.clone();
    let queue = Queue::start_in_arbiter(&arbiter, move |_| Queue::new(j));
    let desk = IntakeDesk::new(journal.clone(), cipher.clone(), name.clone(), has_own);
    let d = desk.clone();
    let intake = Intake::start_in_arbiter(&arbiter, move |_| Intake::with_desk(d));
    let (j, s, n) = (journal.clone(), state.clone(), name.clone());
    let own = settings.credentials.as_ref().map(|c| c.username.clone());
    let status = StatusDesk::start_in_arbiter(&arbiter, move |_| StatusDesk::new(j, s, n, own));
    let ctx = WorkerCtx {
        settings: settings.clone(),
        journal: journal.clone(),
        queue,
        cipher,
        state,
        session_login: std::sync::Mutex::new(None),
        recorded_pid: std::sync::atomic::AtomicU32::new(0),
        breaker: std::sync::Mutex::new(initial_breaker(&settings, &journal)),
        check_now: tokio::sync::Notify::new(),
        checks: tokio::sync::watch::channel(0).0,
    };
    let worker = BrowserWorker::start_in_arbiter(&arbiter, move |_| BrowserWorker::new(ctx, run));
    tracing::info!(workshop = %name, erp = %settings.erp_type, worker = run, "workshop started");
    Ok(Workshop {
        settings,
        actors: Actors {
            intake,
            intake_desk: desk,
            status,
            worker,
        },
        journal,
        arbiter,
    })
}

impl Workshop {
    /// Stops the worker (the order in progress is put back), closes the log and the arbiter.
    pub async fn shutdown(&self) {
        let _ = self.actors.worker.send(Shutdown).await;
        self.journal.close().await;
        self.arbiter.stop();
        tracing::info!(workshop = %self.settings.name, "workshop stopped");
    }
}

/// The breaker as the log leaves it: down (with a check at once) while the
/// ERP is down or refuses the integration's own login.
fn initial_breaker(settings: &WorkshopSettings, journal: &Journal) -> super::breaker::Breaker {
    let mut breaker = super::breaker::Breaker::new(settings.breaker);
    let views = journal.views();
    let own = settings.credentials.as_ref().map(|c| c.username.as_str());
    if views.health.blocking(own).is_some() {
        breaker.go_down(std::time::Instant::now());
    }
    breaker
}
