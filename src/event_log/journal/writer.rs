//! The journal's writer thread: decides, batches, fsyncs, publishes,
//! reopens after a write error, and snapshots.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::commands::{decide, Command, Refusal};
use super::super::events::{now_ms, Event, NewEvent};
use super::super::snapshot;
use super::super::store::{FolderLock, SecretChange, Store};
use super::super::views::Views;
use super::super::{Error, Result};
use super::*;

pub(super) struct Writer {
    pub(super) store: Option<Store>,
    pub(super) log_dir: PathBuf,
    pub(super) workshop_dir: PathBuf,
    /// The sequence number the snapshot on disk ends with.
    pub(super) snapshot_seq: u64,
    /// The last durable event (what a snapshot is checked against).
    pub(super) last_event: Option<Event>,
    pub(super) tentative: Views,
    pub(super) shared: Arc<Shared>,
    pub(super) _lock: FolderLock,
}

/// A command decided in this batch, waiting for the commit to answer.
struct Pending {
    reply: Reply,
    /// Its events' place in the batch, or why it has none.
    outcome: std::result::Result<std::ops::Range<usize>, Refusal>,
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<Request>) {
        let mut reopen_wait = FIRST_REOPEN_WAIT;
        self.snapshot_if_due();
        loop {
            let first = if self.store.is_some() {
                match rx.recv() {
                    Ok(request) => request,
                    Err(_) => return self.close(Vec::new()),
                }
            } else {
                match rx.recv_timeout(reopen_wait) {
                    Ok(request) => request,
                    Err(RecvTimeoutError::Timeout) => {
                        reopen_wait = self.try_reopen(reopen_wait);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return self.close(Vec::new()),
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let close = batch.iter().position(|r| matches!(r, Request::Close(_)));
            if let Some(at) = close {
                let rest = batch.split_off(at);
                self.handle(batch);
                return self.close(rest);
            }
            if self.store.is_none() {
                reopen_wait = self.try_reopen(reopen_wait);
            }
            self.handle(batch);
            if self.store.is_some() {
                reopen_wait = FIRST_REOPEN_WAIT;
                self.snapshot_if_due();
            }
        }
    }

    /// Snapshots the views once [`SNAPSHOT_EVERY`] events (or as many as
    /// the views hold orders) came after the last snapshot.
    fn snapshot_if_due(&mut self) {
        let since = self.tentative.last_seq.saturating_sub(self.snapshot_seq);
        if since >= SNAPSHOT_EVERY.max(self.tentative.order_count() as u64) {
            self.snapshot();
        }
    }

    /// Writes the snapshot of the views (equal to the durable ones between batches).
    fn snapshot(&mut self) {
        if self.store.is_none() || self.tentative.last_seq == self.snapshot_seq {
            return;
        }
        let started = Instant::now();
        let seq = self.tentative.last_seq;
        match snapshot::save(
            &self.workshop_dir,
            &self.tentative,
            self.last_event.as_ref(),
        ) {
            Ok(()) => {
                let ms = started.elapsed().as_millis() as u64;
                tracing::debug!(seq, ms, "views snapshot written");
            }
            // Only a shortcut lost: the next start folds more of the log.
            Err(error) => tracing::warn!(%error, "views snapshot not written"),
        }
        self.snapshot_seq = seq;
    }

    fn handle(&mut self, batch: Vec<Request>) {
        if self.store.is_none() {
            return batch.into_iter().for_each(|r| self.answer_unwritable(r));
        }
        let mut pending = Vec::with_capacity(batch.len());
        let mut events = Vec::with_capacity(batch.len());
        let mut secrets = Vec::with_capacity(batch.len());
        let mut reads = Vec::new();
        for request in batch {
            match request {
                Request::Execute(command, reply) => {
                    let outcome = self.decide(command, &mut events, &mut secrets);
                    pending.push(Pending { reply, outcome });
                }
                other => reads.push(other),
            }
        }
        let committed = self.commit(&events, &secrets);
        for p in pending {
            let answer = match &committed {
                Ok(()) => Ok(p.outcome.map(|range| &events[range])),
                Err(e) => Err(e.clone()),
            };
            p.reply.send(answer);
        }
        for read in reads {
            self.answer_read(read);
        }
    }

    /// Decides against the tentative views and stages the events; their
    /// place in `events`.
    fn decide(
        &mut self,
        command: Command,
        events: &mut Vec<Event>,
        secrets: &mut Vec<SecretChange>,
    ) -> std::result::Result<std::ops::Range<usize>, Refusal> {
        let new_events: Vec<NewEvent> = decide(&self.tentative, &command)?;
        // design.md rule 5: an order's own credentials go once it is completed.
        let sealed = match &command {
            Command::Complete { unique_id, .. } => self
                .tentative
                .order(unique_id)
                .and_then(|o| o.credentials_ref.clone()),
            _ => None,
        };
        let now = now_ms();
        let start = events.len();
        for new in new_events {
            let event = new.stamp(self.tentative.last_seq + 1, now);
            self.tentative.apply(&event);
            events.push(event);
        }
        if let Command::Create {
            unique_id,
            credentials: Some(blob),
            ..
        } = command
        {
            if start < events.len() {
                secrets.push((
                    super::super::commands::credentials_key(&unique_id),
                    Some(blob),
                ));
            }
        }
        if let Some(key) = sealed.filter(|_| start < events.len()) {
            secrets.push((key, None));
        }
        Ok(start..events.len())
    }

    /// Appends the batch durably, then publishes it to the readers.
    fn commit(&mut self, events: &[Event], secrets: &[SecretChange]) -> Result<()> {
        let Some(store) = &self.store else {
            return Err(Error::NotWritable("the log is being reopened".into()));
        };
        if events.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        if let Err(e) = store.append_changes(events, secrets) {
            self.fail(&e);
            return Err(e);
        }
        let stats = &self.shared.stats;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        stats
            .commit_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        stats
            .disk_bytes
            .store(store.disk_space(), Ordering::Relaxed);
        self.publish(events);
        self.last_event = events.last().cloned();
        Ok(())
    }

    fn publish(&self, events: &[Event]) {
        {
            let mut views = self
                .shared
                .views
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for event in events {
                views.apply(event);
            }
        }
        if let Some(last) = events.last() {
            self.shared.last_seq.send_replace(last.seq);
        }
    }

    /// The disk failed: stop writing, forget what was staged, reopen later.
    fn fail(&mut self, error: &Error) {
        tracing::error!(%error, dir = %self.log_dir.display(), "event log cannot be written; /create answers 503 until it recovers");
        self.shared
            .stats
            .write_errors
            .fetch_add(1, Ordering::Relaxed);
        self.shared.writable.store(false, Ordering::Relaxed);
        self.set_reader(None);
        self.store = None;
        self.tentative = self
            .shared
            .views
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
    }

    /// Reopens the log and rebuilds the views from it; returns the next wait.
    fn try_reopen(&mut self, wait: Duration) -> Duration {
        let reopened = Store::open(&self.log_dir).and_then(|store| {
            let (views, folded) = recover(&self.workshop_dir, &store)?;
            let last_event = store.event_at(views.last_seq)?;
            Ok((store, views, folded, last_event))
        });
        match reopened {
            Ok((store, views, folded, last_event)) => {
                self.snapshot_seq = views.last_seq - folded;
                self.last_event = last_event;
                tracing::warn!(dir = %self.log_dir.display(), last_seq = views.last_seq, "event log writable again");
                self.tentative = views.clone();
                *self
                    .shared
                    .views
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = views;
                self.set_reader(Some(store.clone()));
                self.store = Some(store);
                self.shared.writable.store(true, Ordering::Relaxed);
                self.shared.last_seq.send_replace(self.tentative.last_seq);
                FIRST_REOPEN_WAIT
            }
            Err(error) => {
                self.shared
                    .stats
                    .write_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "event log still not writable");
                (wait * 2).min(MAX_REOPEN_WAIT)
            }
        }
    }

    /// Snapshots the views, closes the store and the lock, then tells whoever asked.
    fn close(mut self, requests: Vec<Request>) {
        self.snapshot();
        self.set_reader(None);
        let Writer { store, _lock, .. } = self;
        drop(store);
        drop(_lock);
        for request in requests {
            if let Request::Close(reply) = request {
                let _ = reply.send(());
            }
        }
    }

    /// What event lookups read from (off this thread).
    fn set_reader(&self, store: Option<Store>) {
        *self
            .shared
            .reader
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = store;
    }

    fn answer_unwritable(&self, request: Request) {
        let err = || Error::NotWritable("the log is being reopened".into());
        match request {
            Request::Execute(_, reply) => reply.send(Err(err())),
            Request::Secret(_, reply) => drop(reply.send(Err(err()))),
            Request::Close(reply) => drop(reply.send(())),
        }
    }

    fn answer_read(&self, read: Request) {
        let Some(store) = &self.store else {
            return self.answer_unwritable(read);
        };
        match read {
            Request::Secret(key, reply) => drop(reply.send(store.secret(&key))),
            Request::Execute(..) | Request::Close(_) => {}
        }
    }
}
