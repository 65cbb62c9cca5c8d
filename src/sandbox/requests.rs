//! The sandbox's record of the UI requests it received, as the ERP saw
//! them: `GET /_sandbox/requests` (optionally `?since=SEQ`) answers the most
//! recent ones (at most [`CAPACITY`]), oldest first, as
//! `[{"seq","at_ms","method","path","status","down"}]`:
//! - `seq`: the request's number, counting from 1 (never reused);
//! - `at_ms`: when it arrived, milliseconds since the Unix epoch;
//! - `path`: the path without its query string;
//! - `status`: the HTTP status answered, `null` while no answer has been
//!   sent (a hung page) or when none ever was (the `close` outage);
//! - `down`: the outage in force when it arrived (`"503"`,
//!   `"maintenance"`, `"close"`), `null` when the ERP was up.
//!
//! The control API (`/_sandbox/`) is not recorded. Tests read this to see
//! what an integration did to the ERP (how often it checked an ERP that was
//! down, say); no real ERP offers it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::state::Down;

/// How many requests are kept; older ones are dropped.
pub const CAPACITY: usize = 20_000;

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Its number, counting from 1.
    pub seq: u64,
    /// When it arrived (ms since the Unix epoch).
    pub at_ms: u64,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The status answered; `None` while none (or when none ever was).
    pub status: Option<u16>,
    /// The outage in force when it arrived.
    pub down: Option<Down>,
}

/// The recent requests of one sandbox, shared by its workers.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Recent>>);

#[derive(Debug, Default)]
struct Recent {
    last_seq: u64,
    entries: VecDeque<Request>,
}

impl RequestLog {
    fn lock(&self) -> MutexGuard<'_, Recent> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a request that arrived now; its number. The control API is
    /// not recorded (`None`).
    pub fn arrived(&self, method: &str, path: &str, down: Option<Down>) -> Option<u64> {
        if path.starts_with("/_sandbox/") {
            return None;
        }
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut recent = self.lock();
        recent.last_seq += 1;
        let seq = recent.last_seq;
        if recent.entries.len() >= CAPACITY {
            recent.entries.pop_front();
        }
        recent.entries.push_back(Request {
            seq,
            at_ms,
            method: method.to_owned(),
            path: path.to_owned(),
            status: None,
            down,
        });
        Some(seq)
    }

    /// Notes the status answered to request `seq` (if it is still kept).
    pub fn answered(&self, seq: Option<u64>, status: StatusCode) {
        let Some(seq) = seq else { return };
        let mut recent = self.lock();
        let Some(first) = recent.entries.front().map(|r| r.seq) else {
            return;
        };
        let index = seq.checked_sub(first).and_then(|i| usize::try_from(i).ok());
        if let Some(entry) = index.and_then(|i| recent.entries.get_mut(i)) {
            entry.status = Some(status.as_u16());
        }
    }

    /// The kept requests numbered above `since`, oldest first.
    pub fn since(&self, since: u64) -> Vec<Request> {
        self.lock()
            .entries
            .iter()
            .filter(|r| r.seq > since)
            .cloned()
            .collect()
    }
}

/// The query of `GET /_sandbox/requests`.
#[derive(Debug, Deserialize)]
pub(super) struct SinceQuery {
    #[serde(default)]
    since: u64,
}

/// `GET /_sandbox/requests[?since=SEQ]`: the recent UI requests.
pub(super) async fn get(log: web::Data<RequestLog>, query: web::Query<SinceQuery>) -> HttpResponse {
    HttpResponse::Ok().json(log.since(query.since))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_numbered_answered_and_the_control_api_is_left_out() {
        let log = RequestLog::default();
        let first = log.arrived("GET", "/login", Some(Down::Http503));
        assert_eq!(log.arrived("GET", "/_sandbox/faults", None), None);
        let second = log.arrived("POST", "/login", None);
        log.answered(first, StatusCode::SERVICE_UNAVAILABLE);
        let all = log.since(0);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].seq, all[0].status), (1, Some(503)));
        assert_eq!(all[0].down, Some(Down::Http503));
        assert_eq!((all[1].seq, all[1].status), (2, None));
        assert_eq!(log.since(second.unwrap_or(0) - 1).len(), 1);
    }

    #[test]
    fn only_the_most_recent_are_kept() {
        let log = RequestLog::default();
        for _ in 0..CAPACITY + 5 {
            log.arrived("GET", "/", None);
        }
        log.answered(Some(6), StatusCode::OK);
        let all = log.since(0);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!((all[0].seq, all[0].status), (6, Some(200)));
    }
}
