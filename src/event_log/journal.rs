//! The journal: the one writer of a workshop's log. Commands arrive on a
//! channel; a dedicated thread decides them against its own (tentative)
//! views, appends everything that arrived meanwhile as one atomic batch with
//! one fsync (group commit), and only then publishes the events to the
//! durable views that everyone reads and answers the callers. If the disk
//! fails, every caller in the batch is told so, nothing is acknowledged, and
//! the thread reopens the log by itself until the disk works again.
//!
//! The same thread writes a snapshot of the views every [`SNAPSHOT_EVERY`]
//! events and when it closes, so that a start folds only the events after
//! the last snapshot (see [`super::snapshot`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use super::commands::{decide, Command, Refusal};
use super::events::{now_ms, Event, NewEvent};
use super::snapshot;
use super::store::{FolderLock, Store};
use super::views::Views;
use super::{Error, Result};

/// Most commands folded into one batch.
const MAX_BATCH: usize = 4096;
/// First wait before reopening a failed log; doubles up to `MAX_REOPEN_WAIT`.
const FIRST_REOPEN_WAIT: Duration = Duration::from_millis(200);
const MAX_REOPEN_WAIT: Duration = Duration::from_secs(5);
/// Events between two snapshots of the views: a start after a crash folds at
/// most this many events on top of the last snapshot. When the views hold
/// more orders than that (completed ones included), the interval grows with
/// them, so that writing snapshots costs a bounded share of the writer's
/// time per event.
pub const SNAPSHOT_EVERY: u64 = 100_000;

/// What an executed command did: the events appended, or why there were none.
pub type Executed = std::result::Result<Vec<Event>, Refusal>;

/// What a submitted command did: how many events it appended, or why none.
pub type Submitted = std::result::Result<usize, Refusal>;

enum Request {
    Execute(Command, Reply),
    Secret(String, oneshot::Sender<Result<Option<Vec<u8>>>>),
    Events(Option<String>, oneshot::Sender<Result<Vec<Event>>>),
    Close(oneshot::Sender<()>),
}

/// Where the answer to a command goes.
enum Reply {
    /// The caller wants the events.
    Events(oneshot::Sender<Result<Executed>>),
    /// The caller wants only how many (no copy of the events).
    Count(oneshot::Sender<Result<Submitted>>),
}

impl Reply {
    /// Answers with the staged events in `range`, or the refusal or error.
    fn send(self, answer: Result<std::result::Result<&[Event], Refusal>>) {
        match self {
            Reply::Events(tx) => drop(tx.send(answer.map(|o| o.map(<[Event]>::to_vec)))),
            Reply::Count(tx) => drop(tx.send(answer.map(|o| o.map(<[Event]>::len)))),
        }
    }
}

/// Figures about appends, for the metrics.
#[derive(Debug, Default)]
pub struct JournalStats {
    /// Batches committed.
    pub batches: AtomicU64,
    /// Events committed.
    pub events: AtomicU64,
    /// Total time spent committing, in microseconds.
    pub commit_micros: AtomicU64,
    /// Failed commits or reopen attempts.
    pub write_errors: AtomicU64,
    /// Bytes on disk after the last commit.
    pub disk_bytes: AtomicU64,
}

struct Shared {
    views: RwLock<Views>,
    writable: AtomicBool,
    stats: JournalStats,
    last_seq: watch::Sender<u64>,
}

/// A handle on a workshop's journal; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Request>,
    shared: Arc<Shared>,
    dir: PathBuf,
}

impl Journal {
    /// Locks the workshop folder, opens its log, rebuilds the views and starts the writer.
    pub fn open(workshop_dir: &Path) -> Result<Journal> {
        let lock = FolderLock::acquire(workshop_dir)?;
        let log_dir = workshop_dir.join("log");
        let store = Store::open(&log_dir)?;
        let (views, folded) = recover(workshop_dir, &store)?;
        let last_event = store.event_at(views.last_seq)?;
        let (last_seq, _) = watch::channel(views.last_seq);
        let shared = Arc::new(Shared {
            views: RwLock::new(views.clone()),
            writable: AtomicBool::new(true),
            stats: JournalStats::default(),
            last_seq,
        });
        shared
            .stats
            .disk_bytes
            .store(store.disk_space(), Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            store: Some(store),
            log_dir,
            workshop_dir: workshop_dir.to_path_buf(),
            snapshot_seq: views.last_seq - folded,
            last_event,
            tentative: views,
            shared: shared.clone(),
            _lock: lock,
        };
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::io(workshop_dir, e))?;
        Ok(Journal {
            tx,
            shared,
            dir: workshop_dir.to_path_buf(),
        })
    }

    /// The workshop's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Decides and durably appends a command's events.
    pub async fn execute(&self, command: Command) -> Result<Executed> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Execute(command, Reply::Events(reply)))?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Like [`Self::execute`], answering only how many events were appended
    /// (no copy of them travels back: the path of every `/create`).
    pub async fn submit(&self, command: Command) -> Result<Submitted> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Execute(command, Reply::Count(reply)))?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Reads a secret stored beside the log.
    pub async fn secret(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Secret(key.to_string(), reply))?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// The log's events, all or one order's, oldest first.
    pub async fn events(&self, unique_id: Option<String>) -> Result<Vec<Event>> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Events(unique_id, reply))?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Stops the writer after what is queued, releasing the folder's lock.
    pub async fn close(&self) {
        let (reply, answer) = oneshot::channel();
        if self.send(Request::Close(reply)).is_ok() {
            let _ = answer.await;
        }
    }

    fn send(&self, request: Request) -> Result<()> {
        self.tx.send(request).map_err(|_| Error::Closed)
    }

    /// The durable views (what has been fsync'd), for reading.
    pub fn views(&self) -> RwLockReadGuard<'_, Views> {
        self.shared
            .views
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Watches the sequence number of the last durable event.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.last_seq.subscribe()
    }

    /// False while the log cannot be written.
    pub fn is_writable(&self) -> bool {
        self.shared.writable.load(Ordering::Relaxed)
    }

    /// Append figures.
    pub fn stats(&self) -> &JournalStats {
        &self.shared.stats
    }
}

/// Folds the whole log into views.
pub fn rebuild(store: &Store) -> Result<Views> {
    let mut views = Views::new();
    for event in store.events_from(0) {
        views.apply(&event?);
    }
    Ok(views)
}

/// The views of the log in `workshop_dir`: its snapshot (if one fits) with
/// the events after it folded in, else the whole log folded; and how many
/// events were folded.
pub fn recover(workshop_dir: &Path, store: &Store) -> Result<(Views, u64)> {
    let mut views = snapshot::load(workshop_dir, store).unwrap_or_default();
    let mut folded = 0;
    for event in store.events_from(views.last_seq + 1) {
        views.apply(&event?);
        folded += 1;
    }
    Ok((views, folded))
}

struct Writer {
    store: Option<Store>,
    log_dir: PathBuf,
    workshop_dir: PathBuf,
    /// The sequence number the snapshot on disk ends with.
    snapshot_seq: u64,
    /// The last durable event (what a snapshot is checked against).
    last_event: Option<Event>,
    tentative: Views,
    shared: Arc<Shared>,
    _lock: FolderLock,
}

/// A command decided in this batch, waiting for the commit to answer.
struct Pending {
    reply: Reply,
    /// Its events' place in the batch, or why it has none.
    outcome: std::result::Result<std::ops::Range<usize>, Refusal>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
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
        secrets: &mut Vec<(String, Vec<u8>)>,
    ) -> std::result::Result<std::ops::Range<usize>, Refusal> {
        let new_events: Vec<NewEvent> = decide(&self.tentative, &command)?;
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
                secrets.push((super::commands::credentials_key(&unique_id), blob));
            }
        }
        Ok(start..events.len())
    }

    /// Appends the batch durably, then publishes it to the readers.
    fn commit(&mut self, events: &[Event], secrets: &[(String, Vec<u8>)]) -> Result<()> {
        let Some(store) = &self.store else {
            return Err(Error::NotWritable("the log is being reopened".into()));
        };
        if events.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        if let Err(e) = store.append(events, secrets) {
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
        let Writer { store, _lock, .. } = self;
        drop(store);
        drop(_lock);
        for request in requests {
            if let Request::Close(reply) = request {
                let _ = reply.send(());
            }
        }
    }

    fn answer_unwritable(&self, request: Request) {
        let err = || Error::NotWritable("the log is being reopened".into());
        match request {
            Request::Execute(_, reply) => reply.send(Err(err())),
            Request::Secret(_, reply) => drop(reply.send(Err(err()))),
            Request::Events(_, reply) => drop(reply.send(Err(err()))),
            Request::Close(reply) => drop(reply.send(())),
        }
    }

    fn answer_read(&self, read: Request) {
        let Some(store) = &self.store else {
            return self.answer_unwritable(read);
        };
        match read {
            Request::Secret(key, reply) => drop(reply.send(store.secret(&key))),
            Request::Events(filter, reply) => {
                let events = store
                    .events_from(0)
                    .filter(|e| match (e, &filter) {
                        (Ok(e), Some(id)) => e.unique_id.as_deref() == Some(id.as_str()),
                        _ => true,
                    })
                    .collect();
                drop(reply.send(events));
            }
            Request::Execute(..) | Request::Close(_) => {}
        }
    }
}
