//! The events of a workshop's log: past-tense facts, each with a schema
//! version, a sequence number, a timestamp, the order's unique id (where it
//! has one) and the trace id. Old schema versions still read.

use serde::{Deserialize, Serialize};

use crate::order::FailureKind;

/// The schema version written by this build. Readers accept every version up
/// to this one; fields added later are `#[serde(default)]`.
pub const SCHEMA_VERSION: u32 = 1;

/// One entry of the append-only log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Schema version this event was written with.
    #[serde(default = "default_version")]
    pub v: u32,
    /// Position in the workshop's log, from 1, without gaps.
    pub seq: u64,
    /// Milliseconds since the Unix epoch when it was appended.
    pub ts_ms: u64,
    /// The order it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// The W3C trace id of the request or attempt that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

fn default_version() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// An order as OilMat sent it, without its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderData {
    /// The workshop named in the order.
    pub workshop: String,
    /// The case (work order) on the ERP.
    pub case_id: String,
    /// The ERP item number.
    pub product_nr: String,
    /// Litres, as OilMat sent them (decimal point).
    pub product_amount: String,
    /// The ERP user the order asked to log in as, if it carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// Which queue a `cleared` event emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// Orders waiting or in progress.
    Task,
    /// Orders whose last attempt failed for good.
    Error,
}

impl QueueKind {
    /// Parses the `type` query parameter of the HTTP API.
    pub fn parse(s: &str) -> Option<QueueKind> {
        match s {
            "task" => Some(QueueKind::Task),
            "error" => Some(QueueKind::Error),
            _ => None,
        }
    }

    /// The name used on the API and in events.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Task => "task",
            QueueKind::Error => "error",
        }
    }
}

/// What happened. Serialized with a `kind` tag in the past tense.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// An order was accepted; it is durable and will be booked.
    Received {
        /// The order, password removed.
        order: OrderData,
        /// Key of the encrypted credentials stored beside the log, if the order carried any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials_ref: Option<String>,
        /// The request's server span: the parent of the order's attempt spans.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        span_id: Option<String>,
    },
    /// A `/create` was refused for bad input.
    #[serde(rename = "bad request")]
    BadRequest {
        /// Why it was refused.
        reason: String,
    },
    /// The worker started an attempt to book the order.
    Processing {
        /// 1 for the first attempt.
        attempt: u32,
        /// False when the attempt may only look for the line (an earlier
        /// save's outcome is unknown and not yet settled, or the attempts
        /// are used up): it adds nothing and costs no attempt. Absent in
        /// older logs (true).
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        may_add: bool,
    },
    /// The worker is about to click save (recorded before the click): until
    /// the outcome is known, the order adds no line (design.md rule 6).
    #[serde(rename = "save submitted")]
    SaveSubmitted {
        /// The attempt that saves.
        attempt: u32,
    },
    /// The line is on the case.
    Completed {
        /// The attempt that got it there.
        attempt: u32,
        /// True when the line was already on the case (found by its reference).
        already_present: bool,
        /// Time from the attempt's start, in milliseconds.
        #[serde(default)]
        duration_ms: u64,
    },
    /// An attempt failed.
    Failed {
        /// Why, as support should read it.
        reason: String,
        /// True for an integration fault: the attempt is given back to the
        /// order (it counts none of its attempts).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        uncharged: bool,
        /// The typed kind of the failure; absent in logs written before
        /// kinds were typed (then [`failure_kind`] reads it off the reason).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<FailureKind>,
        /// True when retrying cannot help, or the attempts are used up.
        #[serde(rename = "final")]
        is_final: bool,
        /// The attempt that failed.
        attempt: u32,
        /// Screenshot saved for support, relative to the workshop folder.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        screenshot: Option<String>,
        /// Page source saved for support, relative to the workshop folder.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_source: Option<String>,
        /// Time from the attempt's start, in milliseconds.
        #[serde(default)]
        duration_ms: u64,
    },
    /// A retry of the order will start no earlier than `at_ms`.
    #[serde(rename = "retry scheduled")]
    RetryScheduled {
        /// The attempt that will run next.
        next_attempt: u32,
        /// Milliseconds since the Unix epoch.
        at_ms: u64,
    },
    /// An order was taken off a queue by an operator; it ends `failed`/`cleared`.
    Cleared {
        /// The queue it was on.
        queue: QueueKind,
        /// True when the order has a save whose outcome is unknown: the
        /// clear takes effect after its settle check (found: `completed`;
        /// not found: a plain `cleared` follows).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        after_check: bool,
    },
    /// A failed order was put back on the task queue; it is `received` again.
    Requeued,
    /// The browser worker was started (by an operator or at start-up).
    #[serde(rename = "worker started")]
    WorkerStarted {
        /// True when an operator asked for it.
        #[serde(default)]
        by_operator: bool,
    },
    /// The browser worker was stopped.
    #[serde(rename = "worker stopped")]
    WorkerStopped {
        /// True when an operator asked for it (the choice survives a restart).
        #[serde(default)]
        by_operator: bool,
    },
    /// The ERP, or one login on it, stopped working: an integration fault
    /// (design.md rule 6); orders wait and are charged nothing.
    #[serde(rename = "integration down")]
    IntegrationDown {
        /// The fault, as support should read it.
        fault: String,
        /// When the faults began (ms since the epoch).
        since_ms: u64,
        /// The login it concerns (a refused login); absent: the whole ERP.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login: Option<String>,
    },
    /// The ERP (or that login) works again.
    #[serde(rename = "integration up")]
    IntegrationUp {
        /// The login it concerns; absent: the whole ERP.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login: Option<String>,
    },
    /// An operator acted through the support console (requeue, start, stop);
    /// the event's `unique_id` names the order when the action concerned one.
    #[serde(rename = "operator action")]
    OperatorAction {
        /// What was done: `requeue`, `start worker`, `stop api`, ...
        action: String,
        /// Who did it: `admin` or `support`.
        by: String,
    },
}

impl EventKind {
    /// A final `failed` decided from the log alone, with no browser attempt
    /// of its own (no evidence, no duration): attempt `attempt` stays the
    /// order's last.
    pub fn failed_outright(reason: String, kind: FailureKind, attempt: u32) -> EventKind {
        EventKind::Failed {
            reason,
            failure: Some(kind),
            is_final: true,
            attempt,
            screenshot: None,
            page_source: None,
            duration_ms: 0,
            uncharged: false,
        }
    }

    /// The kind's name as written in the log (`received`, `retry scheduled`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Received { .. } => "received",
            EventKind::BadRequest { .. } => "bad request",
            EventKind::Processing { .. } => "processing",
            EventKind::SaveSubmitted { .. } => "save submitted",
            EventKind::Completed { .. } => "completed",
            EventKind::Failed { .. } => "failed",
            EventKind::RetryScheduled { .. } => "retry scheduled",
            EventKind::Cleared { .. } => "cleared",
            EventKind::Requeued => "requeued",
            EventKind::WorkerStarted { .. } => "worker started",
            EventKind::WorkerStopped { .. } => "worker stopped",
            EventKind::IntegrationDown { .. } => "integration down",
            EventKind::IntegrationUp { .. } => "integration up",
            EventKind::OperatorAction { .. } => "operator action",
        }
    }
}

/// The kind of a `failed` event: the typed one, or for old events the one
/// its reason names.
pub fn failure_kind(failure: Option<FailureKind>, reason: &str) -> FailureKind {
    failure.unwrap_or_else(|| FailureKind::from_reason(reason))
}

/// An event before the store gives it a sequence number and a timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The order it concerns, if any.
    pub unique_id: Option<String>,
    /// The trace id of the cause.
    pub trace_id: Option<String>,
    /// What happened.
    pub kind: EventKind,
}

impl NewEvent {
    /// An event about one order.
    pub fn order(unique_id: &str, trace_id: Option<&str>, kind: EventKind) -> NewEvent {
        NewEvent {
            unique_id: Some(unique_id.to_string()),
            trace_id: trace_id.map(str::to_string),
            kind,
        }
    }

    /// An event about the workshop as a whole.
    pub fn workshop(kind: EventKind) -> NewEvent {
        NewEvent {
            unique_id: None,
            trace_id: None,
            kind,
        }
    }

    /// Gives it its place in the log.
    pub fn stamp(self, seq: u64, ts_ms: u64) -> Event {
        Event {
            v: SCHEMA_VERSION,
            seq,
            ts_ms,
            unique_id: self.unique_id,
            trace_id: self.trace_id,
            kind: self.kind,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `ms` since the epoch as RFC 3339 with milliseconds, UTC.
pub fn rfc3339(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}
