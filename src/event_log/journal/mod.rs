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
use std::sync::mpsc;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::commands::{Command, Refusal};
use super::events::Event;
use super::order_index::{Filter, OrderPage, OrderRow};
use super::snapshot;
use super::store::{FolderLock, Store};
use super::views::Views;
use super::{Error, Result};

mod writer;
use writer::Writer;

/// Most commands folded into one batch.
pub(super) const MAX_BATCH: usize = 4096;
/// First wait before reopening a failed log; doubles up to `MAX_REOPEN_WAIT`.
pub(super) const FIRST_REOPEN_WAIT: Duration = Duration::from_millis(200);
pub(super) const MAX_REOPEN_WAIT: Duration = Duration::from_secs(5);
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

pub(super) enum Request {
    Execute(Command, Reply),
    Secret(String, oneshot::Sender<Result<Option<Vec<u8>>>>),
    Close(oneshot::Sender<()>),
}

/// Where the answer to a command goes.
pub(super) enum Reply {
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

pub(super) struct Shared {
    views: RwLock<Views>,
    /// The store for readers off the writer thread (event lookups); `None`
    /// while the log is being reopened or after it was closed.
    reader: RwLock<Option<Store>>,
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
            reader: RwLock::new(Some(store.clone())),
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

    /// The log's events, all or one order's, oldest first: read from a
    /// blocking task, never on the writer's thread (intake does not wait).
    pub async fn events(&self, unique_id: Option<String>) -> Result<Vec<Event>> {
        self.read(move |store| {
            store
                .events_from(0)
                .filter(|e| match (e, &unique_id) {
                    (Ok(e), Some(id)) => e.unique_id.as_deref() == Some(id.as_str()),
                    _ => true,
                })
                .collect()
        })
        .await
    }

    /// One page of the workshop's orders, newest first, from the order
    /// index (a snapshot read on a blocking task, off the writer's thread).
    pub async fn order_page(
        &self,
        filter: Filter,
        page: usize,
        per_page: usize,
    ) -> Result<OrderPage> {
        self.read(move |store| store.order_page(&filter, page, per_page))
            .await
    }

    /// The order index's row of one order.
    pub async fn order_row(&self, unique_id: String) -> Result<Option<OrderRow>> {
        self.read(move |store| store.order_row(&unique_id)).await
    }

    /// The workshop's last `limit` operator actions, newest first.
    pub async fn operator_actions(&self, limit: usize) -> Result<Vec<(u64, String)>> {
        self.read(move |store| store.operator_actions(limit)).await
    }

    /// The workshop's last `limit` `integration down` / `up` events, oldest first.
    pub async fn health_events(&self, limit: usize) -> Result<Vec<Event>> {
        self.read(move |store| store.health_events(limit)).await
    }

    /// Runs `read` on the store from a blocking task.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self
            .shared
            .reader
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .ok_or_else(|| Error::NotWritable("the log is being reopened".into()))?;
        tokio::task::spawn_blocking(move || read(&store))
            .await
            .map_err(|_| Error::Closed)?
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
