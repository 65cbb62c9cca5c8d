//! Views folded from the events: every order's status, the task and error
//! queues, the operator's worker choice and the counters the metrics show.
//! `apply` does no I/O and no deciding: the same events give the same views,
//! whether kept incrementally, rebuilt from the log, or restored from a
//! [`Snapshot`] and brought up to date with the events after it.
//!
//! Memory: an order's details are kept while it can still change (waiting,
//! in progress, failed, refused). A completed order is final: only its id is
//! kept, so that a repeated `unique_id` is still recognised exactly, at a
//! few dozen bytes per completed order instead of the whole order.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// The views' hash maps: a fast hasher, randomly seeded per process (the
/// keys are ids chosen by callers). Every event is folded twice (see the
/// journal), so the fold's cost shows in intake's throughput.
pub type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type Set<K> = HashSet<K, foldhash::fast::RandomState>;

use super::events::{failure_kind, Event, EventKind, OrderData, QueueKind};

mod counters;
pub use counters::{failure_class, failure_class_of, Counters, FAILURE_CLASSES};

/// The statuses `/check_order_status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Durable, waiting for the worker.
    #[serde(rename = "received")]
    Received,
    /// An attempt runs, or a retry is scheduled.
    #[serde(rename = "processing")]
    Processing,
    /// The line is on the case.
    #[serde(rename = "completed")]
    Completed,
    /// The order was refused at intake.
    #[serde(rename = "bad request")]
    BadRequest,
    /// It failed for good (or was cleared).
    #[serde(rename = "failed")]
    Failed,
}

impl Status {
    /// The name on the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::BadRequest => "bad request",
            Status::Failed => "failed",
        }
    }
}

/// One order as the views know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    /// OilMat's id.
    pub unique_id: String,
    /// Current status.
    pub status: Status,
    /// Why it is failed / bad request, or the last error while retrying.
    pub reason: Option<String>,
    /// The order itself (absent for one that only ever was a bad request).
    pub order: Option<OrderData>,
    /// Where its encrypted credentials are, if it carried any.
    pub credentials_ref: Option<String>,
    /// The number of the latest attempt (never reset).
    pub attempt: u32,
    /// Attempts since it was last received or requeued.
    pub attempts_in_round: u32,
    /// When the next attempt may start (ms since epoch), while retrying.
    pub retry_at_ms: Option<u64>,
    /// When it was (last) received.
    pub received_ms: u64,
    /// Trace id of the request that created it.
    pub trace_id: Option<String>,
}

impl OrderView {
    fn new(unique_id: &str) -> OrderView {
        OrderView {
            unique_id: unique_id.to_string(),
            status: Status::BadRequest,
            reason: None,
            order: None,
            credentials_ref: None,
            attempt: 0,
            attempts_in_round: 0,
            retry_at_ms: None,
            received_ms: 0,
            trace_id: None,
        }
    }

    /// A completed order as the views keep it: id and status only.
    fn completed(unique_id: &str) -> OrderView {
        OrderView {
            status: Status::Completed,
            ..OrderView::new(unique_id)
        }
    }

    /// Folds one event about this order into it.
    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::Received {
                order,
                credentials_ref,
            } => {
                self.status = Status::Received;
                self.reason = None;
                self.order = Some(order.clone());
                self.credentials_ref = credentials_ref.clone();
                self.attempts_in_round = 0;
                self.retry_at_ms = None;
                self.received_ms = event.ts_ms;
                self.trace_id = event.trace_id.clone();
            }
            EventKind::BadRequest { reason } => {
                self.status = Status::BadRequest;
                self.reason = Some(reason.clone());
            }
            EventKind::Processing { attempt } => {
                self.status = Status::Processing;
                self.attempt = *attempt;
                self.attempts_in_round += 1;
                self.retry_at_ms = None;
            }
            EventKind::Completed { .. } => {
                self.status = Status::Completed;
                self.reason = None;
                self.retry_at_ms = None;
            }
            EventKind::Failed {
                reason, is_final, ..
            } => {
                self.status = if *is_final {
                    Status::Failed
                } else {
                    Status::Processing
                };
                self.reason = Some(reason.clone());
            }
            EventKind::RetryScheduled { at_ms, .. } => self.retry_at_ms = Some(*at_ms),
            EventKind::Cleared { .. } => {
                self.status = Status::Failed;
                self.reason = Some("cleared".to_string());
                self.retry_at_ms = None;
            }
            EventKind::Requeued => {
                self.status = Status::Received;
                self.reason = None;
                self.attempts_in_round = 0;
                self.retry_at_ms = None;
            }
            EventKind::WorkerStarted { .. }
            | EventKind::WorkerStopped { .. }
            | EventKind::OperatorAction { .. } => {}
        }
    }

    /// True while the order is on the task queue (waiting or in progress).
    pub fn is_pending(&self) -> bool {
        matches!(self.status, Status::Received | Status::Processing)
    }
}

/// Everything folded from one workshop's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Views {
    /// Every order that is not completed, by unique id (boxed: a growing
    /// map moves and leaves empty only small slots).
    pub orders: Map<String, Box<OrderView>>,
    /// The ids of completed orders (their details are not kept: see the module doc).
    completed: Set<Box<str>>,
    /// Orders waiting or in progress, by the seq that (re)queued them.
    pub task_queue: BTreeMap<u64, String>,
    /// Orders whose last attempt failed for good, by the seq of that failure.
    pub error_queue: BTreeMap<u64, String>,
    queue_keys: Map<String, (QueueKind, u64)>,
    /// False once an operator stopped the worker, until one starts it.
    pub worker_wanted: bool,
    /// Counters for the metrics.
    pub counters: Counters,
    /// Sequence number of the last event folded in.
    pub last_seq: u64,
    /// When the last order completed (ms since epoch).
    pub last_completed_ms: Option<u64>,
    /// The last final failure: reason and when.
    pub last_error: Option<(String, u64)>,
}

impl Default for Views {
    /// Empty views, as for an empty log: the worker runs until an operator stops it.
    fn default() -> Self {
        Views {
            orders: Map::default(),
            completed: Set::default(),
            task_queue: BTreeMap::new(),
            error_queue: BTreeMap::new(),
            queue_keys: Map::default(),
            worker_wanted: true,
            counters: Counters::default(),
            last_seq: 0,
            last_completed_ms: None,
            last_error: None,
        }
    }
}

impl Views {
    /// Empty views, as for an empty log.
    pub fn new() -> Views {
        Views::default()
    }

    /// Folds a whole log.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Views {
        let mut views = Views::new();
        for event in events {
            views.apply(event);
        }
        views
    }

    /// The order with that id, if any. A completed order comes back with its
    /// id and status only.
    pub fn order(&self, unique_id: &str) -> Option<Cow<'_, OrderView>> {
        if let Some(order) = self.orders.get(unique_id) {
            return Some(Cow::Borrowed(&**order));
        }
        self.completed
            .contains(unique_id)
            .then(|| Cow::Owned(OrderView::completed(unique_id)))
    }

    /// How many orders the log has seen (completed ones included).
    pub fn order_count(&self) -> usize {
        self.orders.len() + self.completed.len()
    }

    /// How many orders completed (their ids are kept, their details not).
    pub fn completed_count(&self) -> usize {
        self.completed.len()
    }

    /// The ids on a queue, oldest first.
    pub fn queue(&self, kind: QueueKind) -> impl Iterator<Item = &OrderView> {
        let queue = match kind {
            QueueKind::Task => &self.task_queue,
            QueueKind::Error => &self.error_queue,
        };
        queue
            .values()
            .filter_map(|id| self.orders.get(id).map(|o| &**o))
    }

    /// How many orders a queue holds.
    pub fn queue_len(&self, kind: QueueKind) -> usize {
        match kind {
            QueueKind::Task => self.task_queue.len(),
            QueueKind::Error => self.error_queue.len(),
        }
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: &Event) {
        self.last_seq = self.last_seq.max(event.seq);
        self.count(event);
        match &event.kind {
            EventKind::WorkerStarted { by_operator } => {
                if *by_operator {
                    self.worker_wanted = true;
                }
                return;
            }
            EventKind::WorkerStopped { by_operator } => {
                if *by_operator {
                    self.worker_wanted = false;
                }
                return;
            }
            // A record of who acted; the action itself has its own events.
            EventKind::OperatorAction { .. } => return,
            _ => {}
        }
        let Some(id) = event.unique_id.as_deref() else {
            return;
        };
        if self.completed.remove(id) {
            // No decided command touches a completed order; fold it all the same.
            let order = Box::new(OrderView::completed(id));
            self.orders.insert(id.to_string(), order);
        } else if !self.orders.contains_key(id) {
            self.orders
                .insert(id.to_string(), Box::new(OrderView::new(id)));
        }
        let Some(order) = self.orders.get_mut(id) else {
            return;
        };
        order.apply(event);
        let done = order.status == Status::Completed;
        self.place(id, event);
        if done {
            self.orders.remove(id);
            self.completed.insert(id.into());
        }
    }

    /// Moves the order between queues as the event says.
    fn place(&mut self, id: &str, event: &Event) {
        match &event.kind {
            EventKind::Received { .. } | EventKind::Requeued => {
                self.enqueue(id, QueueKind::Task, event.seq)
            }
            EventKind::Failed { is_final: true, .. } => {
                self.enqueue(id, QueueKind::Error, event.seq)
            }
            EventKind::Completed { .. } | EventKind::Cleared { .. } => self.dequeue(id),
            _ => {}
        }
    }

    fn enqueue(&mut self, id: &str, kind: QueueKind, seq: u64) {
        self.dequeue(id);
        match kind {
            QueueKind::Task => self.task_queue.insert(seq, id.to_string()),
            QueueKind::Error => self.error_queue.insert(seq, id.to_string()),
        };
        self.queue_keys.insert(id.to_string(), (kind, seq));
    }

    fn dequeue(&mut self, id: &str) {
        match self.queue_keys.remove(id) {
            Some((QueueKind::Task, seq)) => self.task_queue.remove(&seq),
            Some((QueueKind::Error, seq)) => self.error_queue.remove(&seq),
            None => None,
        };
    }

    fn count(&mut self, event: &Event) {
        let c = &mut self.counters;
        match &event.kind {
            EventKind::Received { .. } => c.received += 1,
            EventKind::BadRequest { .. } => c.bad_requests += 1,
            EventKind::Processing { .. } => {
                c.attempts += 1;
                let first = event
                    .unique_id
                    .as_deref()
                    .and_then(|id| self.orders.get(id))
                    .is_none_or(|o| o.attempts_in_round == 0);
                if !first {
                    c.retries += 1;
                }
            }
            EventKind::Completed {
                already_present, ..
            } => {
                c.completed += 1;
                c.completed_already_present += u64::from(*already_present);
                self.last_completed_ms = Some(event.ts_ms);
            }
            EventKind::Failed {
                is_final: true,
                reason,
                failure,
                ..
            } => {
                c.failed += 1;
                let class = failure_class_of(failure_kind(*failure, reason));
                *c.failed_by_class.entry(class).or_default() += 1;
                self.last_error = Some((reason.clone(), event.ts_ms));
            }
            EventKind::Cleared { .. } => c.cleared += 1,
            EventKind::Requeued => c.requeued += 1,
            _ => {}
        }
    }
}

/// The format [`Views::snapshot`] writes; a snapshot of another is not used.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The views as of one event, as a snapshot file holds them: restoring it
/// and folding the events after `last_seq` gives the views of the whole log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT`] when written.
    pub format: u32,
    /// The last event folded in.
    pub last_seq: u64,
    orders: Vec<OrderView>,
    completed: Vec<Box<str>>,
    task_queue: Vec<(u64, String)>,
    error_queue: Vec<(u64, String)>,
    worker_wanted: bool,
    counters: Counters,
    last_completed_ms: Option<u64>,
    last_error: Option<(String, u64)>,
}

/// The views as a snapshot file stores them, borrowed: what [`Snapshot`]
/// reads back (serialized without copying the views).
#[derive(Serialize)]
pub struct SnapshotRef<'a> {
    format: u32,
    last_seq: u64,
    #[serde(serialize_with = "values")]
    orders: &'a Map<String, Box<OrderView>>,
    #[serde(serialize_with = "items")]
    completed: &'a Set<Box<str>>,
    #[serde(serialize_with = "items")]
    task_queue: &'a BTreeMap<u64, String>,
    #[serde(serialize_with = "items")]
    error_queue: &'a BTreeMap<u64, String>,
    worker_wanted: bool,
    counters: &'a Counters,
    last_completed_ms: Option<u64>,
    last_error: &'a Option<(String, u64)>,
}

fn values<S: serde::Serializer>(
    map: &&Map<String, Box<OrderView>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.values())
}

fn items<'a, C, S>(items: &&'a C, s: S) -> Result<S::Ok, S::Error>
where
    &'a C: IntoIterator,
    <&'a C as IntoIterator>::Item: Serialize,
    S: serde::Serializer,
{
    s.collect_seq(*items)
}

impl Views {
    /// A snapshot of these views, to serialize.
    pub fn snapshot(&self) -> SnapshotRef<'_> {
        SnapshotRef {
            format: SNAPSHOT_FORMAT,
            last_seq: self.last_seq,
            orders: &self.orders,
            completed: &self.completed,
            task_queue: &self.task_queue,
            error_queue: &self.error_queue,
            worker_wanted: self.worker_wanted,
            counters: &self.counters,
            last_completed_ms: self.last_completed_ms,
            last_error: &self.last_error,
        }
    }

    /// The views a snapshot holds.
    pub fn restore(snapshot: Snapshot) -> Views {
        let mut queue_keys = Map::default();
        for (kind, queue) in [
            (QueueKind::Task, &snapshot.task_queue),
            (QueueKind::Error, &snapshot.error_queue),
        ] {
            for (seq, id) in queue {
                queue_keys.insert(id.clone(), (kind, *seq));
            }
        }
        Views {
            orders: snapshot
                .orders
                .into_iter()
                .map(|o| (o.unique_id.clone(), Box::new(o)))
                .collect(),
            completed: snapshot.completed.into_iter().collect(),
            task_queue: snapshot.task_queue.into_iter().collect(),
            error_queue: snapshot.error_queue.into_iter().collect(),
            queue_keys,
            worker_wanted: snapshot.worker_wanted,
            counters: snapshot.counters,
            last_seq: snapshot.last_seq,
            last_completed_ms: snapshot.last_completed_ms,
            last_error: snapshot.last_error,
        }
    }
}
