//! The ids that were only ever bad requests, bounded: anyone who may post
//! `/create` can post refused requests with fresh ids, and each would
//! otherwise stay in the views forever. The newest [`bad_requests_kept`]
//! (default [`BAD_REQUESTS_KEPT`]; `--bad-requests-kept`, or
//! `bad_requests_kept` in the host's config) by the seq of the event that
//! refused them are kept; older ones are forgotten, and
//! `/check_order_status` answers 404 for them. Being a fold of the log,
//! the same events keep the same ids.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Map, OrderView, Status, Views};

/// How many bad-request-only ids the views keep by default.
pub const BAD_REQUESTS_KEPT: usize = 10_000;

static KEPT: AtomicUsize = AtomicUsize::new(BAD_REQUESTS_KEPT);

/// Sets how many bad-request-only ids every workshop of this process keeps
/// (at least 1); call it before any workshop starts.
pub fn set_bad_requests_kept(kept: usize) {
    KEPT.store(kept.max(1), Ordering::Relaxed);
}

/// How many bad-request-only ids views created now keep.
pub fn bad_requests_kept() -> usize {
    KEPT.load(Ordering::Relaxed)
}

/// The bad-request-only ids, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequests {
    by_seq: BTreeMap<(u64, Box<str>), ()>,
    seq_of: Map<Box<str>, u64>,
    /// How many are kept ([`bad_requests_kept`] when created).
    pub cap: usize,
}

impl Default for BadRequests {
    fn default() -> Self {
        BadRequests {
            by_seq: BTreeMap::new(),
            seq_of: Map::default(),
            cap: bad_requests_kept(),
        }
    }
}

impl BadRequests {
    /// How many are kept now.
    pub fn len(&self) -> usize {
        self.seq_of.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.seq_of.is_empty()
    }

    /// `id` was refused by the event `seq`; the ids forgotten to stay within the cap.
    pub(super) fn note(&mut self, id: &str, seq: u64) -> Vec<Box<str>> {
        self.forget(id);
        self.by_seq.insert((seq, id.into()), ());
        self.seq_of.insert(id.into(), seq);
        let mut evicted = Vec::new();
        while self.seq_of.len() > self.cap {
            let Some(((_, oldest), ())) = self.by_seq.pop_first() else {
                break;
            };
            self.seq_of.remove(&oldest);
            evicted.push(oldest);
        }
        evicted
    }

    /// `id` is no longer only a bad request (it was received).
    pub(super) fn forget(&mut self, id: &str) {
        if let Some(seq) = self.seq_of.remove(id) {
            self.by_seq.remove(&(seq, id.into()));
        }
    }
}

impl Views {
    /// Rebuilds the bad-request index from the orders (after a restore).
    pub(super) fn with_bad_requests_indexed(mut self) -> Views {
        let mut bad: Vec<(u64, String)> = self
            .orders
            .values()
            .filter(|o| is_only_bad(o))
            .map(|o| (o.bad_seq, o.unique_id.clone()))
            .collect();
        bad.sort();
        for (seq, id) in bad {
            for old in self.bad_requests.note(&id, seq) {
                self.orders.remove(&*old);
            }
        }
        self
    }
}

fn is_only_bad(order: &OrderView) -> bool {
    order.status == Status::BadRequest && order.order.is_none()
}

#[cfg(test)]
mod tests {
    use super::super::super::events::{Event, EventKind, SCHEMA_VERSION};
    use super::*;

    fn bad(seq: u64, id: &str) -> Event {
        Event {
            v: SCHEMA_VERSION,
            seq,
            ts_ms: seq,
            unique_id: Some(id.to_string()),
            trace_id: None,
            kind: EventKind::BadRequest {
                reason: "missing case_id".into(),
            },
        }
    }

    #[test]
    fn a_flood_of_bad_requests_keeps_the_newest_up_to_the_cap() {
        let mut views = Views::new();
        views.bad_requests.cap = 3;
        for seq in 1..=10 {
            views.apply(&bad(seq, &format!("b-{seq}")));
        }
        assert_eq!(views.bad_requests.len(), 3);
        assert_eq!(views.orders.len(), 3);
        assert!(views.order("b-7").is_none(), "the oldest are forgotten");
        for id in ["b-8", "b-9", "b-10"] {
            assert_eq!(views.order(id).unwrap().status, Status::BadRequest);
        }
        // Refused again: the newest once more, another is forgotten.
        views.apply(&bad(11, "b-8"));
        views.apply(&bad(12, "b-new"));
        assert!(views.order("b-9").is_none());
        assert!(views.order("b-8").is_some());
        assert_eq!(
            views.counters.bad_requests, 12,
            "the counter counts them all"
        );
    }

    #[test]
    fn a_restored_snapshot_forgets_the_same_ids() {
        let mut views = Views::new();
        views.bad_requests.cap = BAD_REQUESTS_KEPT;
        for seq in 1..=5 {
            views.apply(&bad(seq, &format!("b-{seq}")));
        }
        let text = serde_json::to_string(&views.snapshot()).unwrap();
        let mut restored = Views::restore(serde_json::from_str(&text).unwrap());
        assert_eq!(restored, views);
        restored.apply(&bad(6, "b-6"));
        views.apply(&bad(6, "b-6"));
        assert_eq!(restored, views);
    }
}
