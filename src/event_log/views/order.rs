//! One order as the views know it: its status and what its next attempt
//! may do, folded event by event.

use serde::{Deserialize, Serialize};

use super::super::events::{failure_kind, Event, EventKind, OrderData};
use super::super::retry::refused_save;
use super::Status;

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
    /// That request's server span id, the parent of the attempt spans.
    #[serde(default)]
    pub span_id: Option<String>,
    /// When a save whose outcome is still unknown was submitted (ms since
    /// epoch), and by which attempt: until it settles, the order only looks.
    #[serde(default)]
    pub submitted: Option<Submission>,
    /// The seq of the event that last refused it, while it is only a bad request.
    #[serde(default)]
    pub bad_seq: u64,
    /// Whether its current attempt counts as one of its attempts (a look
    /// while a save settles does not).
    #[serde(default)]
    pub charged: bool,
    /// Attempts of this round that ended with no outcome (the process died,
    /// or was killed, while they ran): they cost none of its attempts, but
    /// too many fail the order as a crash loop.
    #[serde(default)]
    pub crashes: u32,
    /// Cleared while a save was open: it only looks, cleared once a look finds no line.
    #[serde(default)]
    pub clear_after_check: bool,
}

/// A `save submitted` without a known outcome yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The attempt that clicked save.
    pub attempt: u32,
    /// When (ms since epoch).
    pub at_ms: u64,
}

impl OrderView {
    pub fn new(unique_id: &str) -> OrderView {
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
            span_id: None,
            submitted: None,
            bad_seq: 0,
            charged: false,
            crashes: 0,
            clear_after_check: false,
        }
    }

    /// A completed order as the views keep it: id and status only.
    pub(super) fn completed(unique_id: &str) -> OrderView {
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
                span_id,
            } => {
                self.status = Status::Received;
                self.reason = None;
                self.order = Some(order.clone());
                self.credentials_ref = credentials_ref.clone();
                self.attempts_in_round = 0;
                self.retry_at_ms = None;
                self.received_ms = event.ts_ms;
                self.trace_id = event.trace_id.clone();
                self.span_id = span_id.clone();
                self.submitted = None;
                self.crashes = 0;
            }
            EventKind::BadRequest { reason } => {
                self.status = Status::BadRequest;
                self.reason = Some(reason.clone());
            }
            EventKind::Processing { attempt, may_add } => {
                if self.in_flight() {
                    // The previous attempt never recorded an outcome: the
                    // process died (or was killed) while it ran. It is not
                    // one of the order's attempts.
                    self.crashes += 1;
                    if self.charged {
                        self.attempts_in_round = self.attempts_in_round.saturating_sub(1);
                    }
                }
                self.status = Status::Processing;
                self.attempt = *attempt;
                self.attempts_in_round += u32::from(*may_add);
                self.charged = *may_add;
                self.retry_at_ms = None;
            }
            EventKind::SaveSubmitted { attempt } => {
                self.submitted = Some(Submission {
                    attempt: *attempt,
                    at_ms: event.ts_ms,
                });
            }
            EventKind::Completed { .. } => {
                self.status = Status::Completed;
                self.reason = None;
                self.retry_at_ms = None;
                self.submitted = None;
            }
            EventKind::Failed {
                reason,
                is_final,
                failure,
                attempt,
                uncharged,
                ..
            } => {
                if *uncharged && self.charged && self.attempt == *attempt {
                    self.attempts_in_round = self.attempts_in_round.saturating_sub(1);
                    self.charged = false;
                }
                if refused_save(self.submitted, *attempt, failure_kind(*failure, reason)) {
                    self.submitted = None;
                }
                self.status = if *is_final {
                    Status::Failed
                } else {
                    Status::Processing
                };
                self.reason = Some(reason.clone());
            }
            EventKind::RetryScheduled { at_ms, .. } => self.retry_at_ms = Some(*at_ms),
            EventKind::Cleared { after_check, .. } if *after_check => {
                self.clear_after_check = true;
                self.reason = Some("to be cleared once its submitted save is checked".to_string());
            }
            EventKind::Cleared { .. } => {
                self.clear_after_check = false;
                self.status = Status::Failed;
                self.reason = Some("cleared".to_string());
                self.retry_at_ms = None;
                self.submitted = None;
            }
            EventKind::Requeued => {
                self.status = Status::Received;
                self.reason = None;
                self.attempts_in_round = 0;
                self.retry_at_ms = None;
                self.submitted = None;
                self.crashes = 0;
            }
            EventKind::WorkerStarted { .. }
            | EventKind::WorkerStopped { .. }
            | EventKind::IntegrationDown { .. }
            | EventKind::IntegrationUp { .. }
            | EventKind::OperatorAction { .. } => {}
        }
    }

    /// The submission whose outcome is unknown and whose settle time has
    /// not passed at `now_ms`, if any.
    pub fn unsettled(&self, now_ms: u64, settle_ms: u64) -> Option<Submission> {
        self.submitted
            .filter(|s| now_ms < s.at_ms.saturating_add(settle_ms))
    }

    /// True while an attempt of it has started and recorded no outcome yet
    /// (after a restart: one the process died in).
    pub fn in_flight(&self) -> bool {
        self.status == Status::Processing && self.retry_at_ms.is_none() && self.attempt > 0
    }

    /// True once the process died in as many of its attempts as the policy
    /// allows: it only looks for its line, then fails (design.md rule 6).
    pub fn crash_looping(&self, policy: &super::super::retry::RetryPolicy) -> bool {
        self.crashes >= policy.crash_limit.max(1)
    }

    /// True while the order is on the task queue (waiting or in progress).
    pub fn is_pending(&self) -> bool {
        matches!(self.status, Status::Received | Status::Processing)
    }
}
