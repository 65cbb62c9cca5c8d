//! The views as a snapshot file stores them (see [`super::super::snapshot`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bad::{bad_requests_kept, BAD_REQUESTS_KEPT};
use super::{BadRequests, Counters, ErpHealth, Map, OrderView, Set, Views};
use crate::event_log::events::QueueKind;

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
    #[serde(default)]
    health: ErpHealth,
    /// How many bad-request-only ids the writer kept (absent: the default).
    #[serde(default)]
    bad_requests_kept: Option<usize>,
}

impl Snapshot {
    /// Whether restoring it gives what folding the log would: the writer
    /// kept at least as many bad-request-only ids as this process keeps
    /// (restoring forgets the surplus, as the fold would have).
    pub fn keeps_enough_bad_requests(&self) -> bool {
        self.bad_requests_kept.unwrap_or(BAD_REQUESTS_KEPT) >= bad_requests_kept()
    }
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
    health: &'a ErpHealth,
    bad_requests_kept: usize,
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
            health: &self.health,
            bad_requests_kept: self.bad_requests.cap,
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
            health: snapshot.health,
            bad_requests: BadRequests::default(),
        }
        .with_bad_requests_indexed()
    }
}
