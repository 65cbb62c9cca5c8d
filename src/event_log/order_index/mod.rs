//! The order index: one row per order of a workshop (its status, reason,
//! failure kind, attempts, case, first and last time), kept on disk in a
//! fjall keyspace of the log's own database and written in the same atomic
//! batch as the events it folds, so it is never out of step with the log.
//! Lists read it one page at a time from a snapshot, so nothing per
//! historical order is held in memory to show them.
//!
//! Keys (one keyspace, by prefix):
//! - `o` + !first_ms + !first_seq (big-endian, inverted: newest first) → the row
//!   (a status byte, then the row as JSON);
//! - `i` + unique id → the row's `o` key;
//! - `a` + !seq → an operator action on the workshop (ts, text);
//! - `m` → [`Meta`]: the index's version, the last seq folded, counts per status.
//!
//! It is a fold of the log: missing, of another version, or behind the log
//! (an older build appended), it is rebuilt or brought up to date at open.

mod read;
mod stage;
#[cfg(test)]
mod tests;

pub use read::{health_events, operator_actions, order_page, order_row};
pub use stage::{ensure, stage};

use serde::{Deserialize, Serialize};

use super::events::{failure_kind, Event, EventKind};
use super::views::{OrderView, Status};
use super::{Error, Result};
use crate::order::FailureKind;

/// The keyspace's name.
pub const KEYSPACE: &str = "order_index";
/// The rows' format; another value in [`Meta`] means the index is rebuilt.
pub const INDEX_VERSION: u32 = 2;

const ROW: u8 = b'o';
const ID: u8 = b'i';
const ACTION: u8 = b'a';
const HEALTH: u8 = b'h';
const META: &[u8] = b"m";

/// The statuses in the order the counts are kept.
pub const STATUSES: [Status; 5] = [
    Status::Received,
    Status::Processing,
    Status::Completed,
    Status::BadRequest,
    Status::Failed,
];

/// One order in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRow {
    /// Where it stands now, folded from its own events with the views' rules.
    pub view: OrderView,
    /// When it was first seen (ms since the epoch).
    pub first_ms: u64,
    /// The seq of its first event (orders first seen in the same ms: newest first).
    pub first_seq: u64,
    /// When anything last happened to it.
    pub last_ms: u64,
    /// The kind of its last failure, if it failed (retryable or final).
    pub failure: Option<FailureKind>,
}

impl OrderRow {
    /// The row of an order whose first event is `event`, before folding it.
    pub fn new(unique_id: &str, event: &Event) -> OrderRow {
        OrderRow {
            view: OrderView::new(unique_id),
            first_ms: event.ts_ms,
            first_seq: event.seq,
            last_ms: event.ts_ms,
            failure: None,
        }
    }

    /// Folds one of its events in.
    pub fn apply(&mut self, event: &Event) {
        self.view.apply(event);
        self.last_ms = event.ts_ms;
        match &event.kind {
            EventKind::Failed {
                failure, reason, ..
            } => self.failure = Some(failure_kind(*failure, reason)),
            EventKind::Received { .. } | EventKind::Requeued | EventKind::Completed { .. } => {
                self.failure = None
            }
            _ => {}
        }
    }

    /// Its key among the rows.
    fn key(&self) -> [u8; 17] {
        row_key(self.first_ms, self.first_seq)
    }
}

/// Folds the events in memory into one row per order, newest first (what
/// the index holds; for one order's page and for tests).
pub fn fold(events: &[Event]) -> Vec<OrderRow> {
    let mut rows: Vec<OrderRow> = Vec::new();
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for event in events {
        let Some(id) = event.unique_id.as_deref() else {
            continue;
        };
        let i = *at.entry(id).or_insert_with(|| {
            rows.push(OrderRow::new(id, event));
            rows.len() - 1
        });
        rows[i].apply(event);
    }
    rows.sort_by_key(|r| r.key());
    rows
}

/// What a list is narrowed to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only this status (`received`, `processing`, `completed`, `bad request`, `failed`).
    pub status: Option<String>,
    /// Only orders first seen at or after this (ms).
    pub from_ms: Option<u64>,
    /// Only orders first seen before this (ms).
    pub to_ms: Option<u64>,
    /// Only orders whose unique id or case id contains this (any case).
    pub text: Option<String>,
}

impl Filter {
    /// Does this row pass?
    pub fn keeps(&self, row: &OrderRow) -> bool {
        self.keeps_status(status_byte(row.view.status))
            && self.from_ms.is_none_or(|from| row.first_ms >= from)
            && self.to_ms.is_none_or(|to| row.first_ms < to)
            && self.keeps_text(row)
    }

    /// Does a row with this status byte pass the status filter?
    fn keeps_status(&self, byte: u8) -> bool {
        self.status
            .as_deref()
            .is_none_or(|s| status_of(byte).is_some_and(|st| st.as_str() == s))
    }

    fn keeps_text(&self, row: &OrderRow) -> bool {
        self.text.as_deref().is_none_or(|text| {
            let text = text.to_lowercase();
            let case = row.view.order.as_ref().map(|o| o.case_id.to_lowercase());
            row.view.unique_id.to_lowercase().contains(&text)
                || case.is_some_and(|c| c.contains(&text))
        })
    }
}

/// One page of a list and how many orders pass the filter in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderPage {
    /// The page's rows, newest first.
    pub rows: Vec<OrderRow>,
    /// How many rows pass the filter.
    pub total: usize,
}

/// One page of `rows` (newest first) that pass `filter`: the in-memory
/// reading of what [`order_page`] reads from disk.
pub fn page_of(rows: &[OrderRow], filter: &Filter, page: usize, per_page: usize) -> OrderPage {
    let kept: Vec<&OrderRow> = rows.iter().filter(|r| filter.keeps(r)).collect();
    OrderPage {
        total: kept.len(),
        rows: kept
            .into_iter()
            .skip(page.saturating_mul(per_page))
            .take(per_page)
            .cloned()
            .collect(),
    }
}

/// The index's bookkeeping, one key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// [`INDEX_VERSION`] of the rows.
    pub version: u32,
    /// The seq of the last event folded in.
    pub last_seq: u64,
    /// Rows per status, in the order of [`STATUSES`].
    pub counts: [u64; 5],
}

impl Meta {
    /// Rows in all, or with this status.
    fn count(&self, status: Option<&str>) -> Option<u64> {
        match status {
            None => Some(self.counts.iter().sum()),
            Some(s) => STATUSES
                .iter()
                .position(|st| st.as_str() == s)
                .map(|i| self.counts[i]),
        }
    }
}

fn row_key(first_ms: u64, first_seq: u64) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = ROW;
    key[1..9].copy_from_slice(&(!first_ms).to_be_bytes());
    key[9..].copy_from_slice(&(!first_seq).to_be_bytes());
    key
}

fn id_key(unique_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + unique_id.len());
    key.push(ID);
    key.extend_from_slice(unique_id.as_bytes());
    key
}

fn action_key(seq: u64) -> [u8; 9] {
    keyed(ACTION, seq)
}

fn health_key(seq: u64) -> [u8; 9] {
    keyed(HEALTH, seq)
}

/// `prefix` and the seq, newest first.
fn keyed(prefix: u8, seq: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = prefix;
    key[1..].copy_from_slice(&(!seq).to_be_bytes());
    key
}

fn status_byte(status: Status) -> u8 {
    STATUSES.iter().position(|s| *s == status).unwrap_or(0) as u8
}

fn status_of(byte: u8) -> Option<Status> {
    STATUSES.get(usize::from(byte)).copied()
}

fn encode_row(row: &OrderRow) -> Result<Vec<u8>> {
    let mut value = vec![status_byte(row.view.status)];
    serde_json::to_writer(&mut value, row)?;
    Ok(value)
}

fn decode_row(value: &[u8]) -> Result<OrderRow> {
    let json = value
        .get(1..)
        .ok_or_else(|| Error::Corrupt("empty order index row".into()))?;
    serde_json::from_slice(json).map_err(|e| Error::Corrupt(format!("order index row: {e}")))
}

fn decode_meta(value: &[u8]) -> Result<Meta> {
    serde_json::from_slice(value).map_err(|e| Error::Corrupt(format!("order index meta: {e}")))
}
