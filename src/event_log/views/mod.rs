//! Views folded from the events: every order's status, the task and error
//! queues, the operator's worker choice and the counters the metrics show.
//! `apply` does no I/O and no deciding: the same events give the same views,
//! whether kept incrementally, rebuilt from the log, or restored from a
//! [`Snapshot`] and brought up to date with the events after it.
//!
//! Memory: an order's details are kept while it can still change (waiting,
//! in progress, failed, refused). A completed order is final: only its id is
//! kept, so that a repeated `unique_id` is still recognised exactly, at a
//! few dozen bytes per completed order instead of the whole order. Ids that
//! were only ever bad requests are kept up to [`bad_requests_kept`], the
//! newest by the event that refused them; older ones are forgotten (their
//! status answers 404), so that a flood of refused requests cannot grow the
//! views without bound.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// The views' hash maps: a fast hasher, randomly seeded per process (the
/// keys are ids chosen by callers). Every event is folded twice (see the
/// journal), so the fold's cost shows in intake's throughput.
pub type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type Set<K> = HashSet<K, foldhash::fast::RandomState>;

use super::events::{failure_kind, Event, EventKind, QueueKind};
pub use super::retry::refused_save;

mod bad;
mod classes;
mod health;
mod order;
mod stored;
pub use bad::{bad_requests_kept, set_bad_requests_kept, BadRequests, BAD_REQUESTS_KEPT};
pub use classes::{failure_class, failure_class_of, Counters, FAILURE_CLASSES};
pub use health::{ErpHealth, Outage};
pub use order::{OrderView, Submission};
pub use stored::{Snapshot, SnapshotRef, SNAPSHOT_FORMAT};

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
    /// The ERP's health (outages, refused logins).
    pub health: ErpHealth,
    /// The ids that are only bad requests, oldest first, bounded.
    pub bad_requests: BadRequests,
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
            health: ErpHealth::default(),
            bad_requests: BadRequests::default(),
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
            EventKind::IntegrationDown { .. } | EventKind::IntegrationUp { .. } => {
                self.health.apply(&event.kind);
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
        let only_bad = order.status == Status::BadRequest && order.order.is_none();
        self.place(id, event);
        if done {
            self.orders.remove(id);
            self.completed.insert(id.into());
        }
        if only_bad {
            order_bad_seq(&mut self.orders, id, event.seq);
            for old in self.bad_requests.note(id, event.seq) {
                self.orders.remove(&*old);
            }
        } else {
            self.bad_requests.forget(id);
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
            EventKind::Cleared { after_check, .. } if *after_check => {}
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
            EventKind::Cleared { after_check, .. } if !after_check => c.cleared += 1,
            EventKind::Requeued => c.requeued += 1,
            _ => {}
        }
    }
}

/// Records on the order the seq of the event that refused it (what a
/// snapshot restores the bad-request order from).
fn order_bad_seq(orders: &mut Map<String, Box<OrderView>>, id: &str, seq: u64) {
    if let Some(order) = orders.get_mut(id) {
        order.bad_seq = seq;
    }
}
