//! Deciding: a command, checked against the current views, becomes the events
//! to append (or is refused). No I/O here; the journal appends what is decided.

use crate::order::{Failure, FailureKind};

use super::attempts::{cleared_during, current_attempt, decide_fail, decide_start};
use super::events::{EventKind, NewEvent, OrderData, QueueKind};
pub use super::retry::{RetryPolicy, LOOK_AGAIN_MS};
use super::views::{OrderView, Status, Views};

/// Files kept for support after a failed attempt, relative to the workshop folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidencePaths {
    /// The screenshot (PNG).
    pub screenshot: Option<String>,
    /// The page source (HTML).
    pub page_source: Option<String>,
}

/// What the rest of the service asks of the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Accept an order from `/create`.
    Create {
        /// OilMat's id.
        unique_id: String,
        /// The order, without its password.
        order: OrderData,
        /// The encrypted credentials it carried, stored beside the log.
        credentials: Option<Vec<u8>>,
        /// Trace id of the request.
        trace_id: Option<String>,
        /// Id of the request's server span (the parent of the attempt spans).
        span_id: Option<String>,
    },
    /// Record a refused `/create`.
    RejectCreate {
        /// The id, if the body had one.
        unique_id: String,
        /// Why it was refused.
        reason: String,
        /// Trace id of the request.
        trace_id: Option<String>,
    },
    /// The worker starts an attempt.
    StartAttempt {
        /// The order.
        unique_id: String,
        /// Trace id of the attempt.
        trace_id: Option<String>,
        /// Now, in ms since the epoch (to tell whether a save has settled).
        now_ms: u64,
        /// The retry policy in force.
        policy: RetryPolicy,
    },
    /// The worker is about to click save in the order's current attempt.
    SubmitSave {
        /// The order.
        unique_id: String,
        /// The attempt.
        attempt: u32,
        /// Trace id of the attempt.
        trace_id: Option<String>,
    },
    /// The attempt put the line on the case (or found it there).
    Complete {
        /// The order.
        unique_id: String,
        /// The attempt that succeeded.
        attempt: u32,
        /// True when the line was already there.
        already_present: bool,
        /// How long the attempt took.
        duration_ms: u64,
        /// Trace id of the attempt.
        trace_id: Option<String>,
    },
    /// The attempt failed.
    Fail {
        /// The order.
        unique_id: String,
        /// The attempt that failed.
        attempt: u32,
        /// Why, typed.
        failure: Failure,
        /// What was saved for support.
        evidence: EvidencePaths,
        /// How long the attempt took.
        duration_ms: u64,
        /// The retry policy in force.
        policy: RetryPolicy,
        /// Now, in ms since the epoch (to schedule the retry).
        now_ms: u64,
        /// Trace id of the attempt.
        trace_id: Option<String>,
        /// False for an integration fault (design.md rule 6): the attempt
        /// is not the order's, it costs none of its attempts and never
        /// fails it.
        charge: bool,
    },
    /// An order waited for the ERP past its maximum age: it fails for good
    /// with the reason `ERP unavailable since <time>`.
    GiveUp {
        /// The order.
        unique_id: String,
        /// Why.
        reason: String,
    },
    /// Empty a queue; its orders end `failed` with the reason `cleared`.
    Clear {
        /// Which queue.
        queue: QueueKind,
    },
    /// Move failed orders back to the task queue: all, or one.
    Requeue {
        /// One order, or every order on the error queue.
        unique_id: Option<String>,
    },
    /// The worker was started or stopped.
    Worker {
        /// Started (true) or stopped.
        running: bool,
        /// Whether an operator asked for it.
        by_operator: bool,
    },
    /// What the worker found of the ERP's health: `fault` = down (since
    /// `since_ms`), `None` = up; `login` for a refused login, else the whole
    /// ERP. Appends nothing when the log says so already.
    ReportErp {
        /// The login it concerns; `None`: the whole ERP.
        login: Option<String>,
        /// The fault; `None`: it works.
        fault: Option<String>,
        /// When the faults began (ms since the epoch).
        since_ms: u64,
    },
    /// Record what an operator did through the support console.
    RecordOperatorAction {
        /// The order concerned, if any.
        unique_id: Option<String>,
        /// What was done.
        action: String,
        /// Who did it (`admin` or `support`).
        by: String,
    },
}

/// Why a command appended nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The order exists already; here is how it stands.
    Duplicate(Box<OrderView>),
    /// No such order.
    Unknown,
    /// The order is not in a state where this applies (a stale attempt, say).
    NotApplicable(Status),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Duplicate(o) => write!(
                f,
                "order {} exists already ({})",
                o.unique_id,
                o.status.as_str()
            ),
            Refusal::Unknown => f.write_str("no such order"),
            Refusal::NotApplicable(status) => {
                write!(f, "not possible while the order is {}", status.as_str())
            }
        }
    }
}

/// The outcome of deciding.
pub type Decision = Result<Vec<NewEvent>, Refusal>;

/// Decides a command against the views. Events come out in append order.
pub fn decide(views: &Views, command: &Command) -> Decision {
    match command {
        Command::Create {
            unique_id,
            order,
            credentials,
            trace_id,
            span_id,
        } => {
            let span_id = span_id.clone();
            decide_create(
                views,
                unique_id,
                order,
                credentials.is_some(),
                trace_id,
                span_id,
            )
        }
        Command::RejectCreate {
            unique_id,
            reason,
            trace_id,
        } => decide_reject(views, unique_id, reason, trace_id),
        Command::StartAttempt {
            unique_id,
            trace_id,
            now_ms,
            policy,
        } => decide_start(views, unique_id, trace_id, *now_ms, policy),
        Command::SubmitSave {
            unique_id,
            attempt,
            trace_id,
        } => {
            current_attempt(views, unique_id, *attempt)?;
            let kind = EventKind::SaveSubmitted { attempt: *attempt };
            Ok(vec![NewEvent::order(unique_id, trace_id.as_deref(), kind)])
        }
        Command::Complete {
            unique_id,
            attempt,
            already_present,
            duration_ms,
            trace_id,
        } => {
            if !cleared_during(views, unique_id, *attempt) {
                current_attempt(views, unique_id, *attempt)?;
            }
            let kind = EventKind::Completed {
                attempt: *attempt,
                already_present: *already_present,
                duration_ms: *duration_ms,
            };
            Ok(vec![NewEvent::order(unique_id, trace_id.as_deref(), kind)])
        }
        Command::Fail { .. } => decide_fail(views, command),
        Command::GiveUp { unique_id, reason } => {
            let order = views.order(unique_id).ok_or(Refusal::Unknown)?;
            if !order.is_pending() {
                return Err(Refusal::NotApplicable(order.status));
            }
            // No look at the case is possible while the ERP is down: say
            // so when a save was submitted (design.md rule 6).
            let reason = match order.submitted {
                Some(_) => format!(
                    "{reason}; a save was submitted and the case could not be read \
                     since: it may have landed"
                ),
                None => reason.clone(),
            };
            let failed =
                EventKind::failed_outright(reason, FailureKind::ErpUnavailable, order.attempt);
            Ok(vec![NewEvent::order(unique_id, None, failed)])
        }
        Command::Clear { queue } => Ok(decide_clear(views, *queue)),
        Command::Requeue { unique_id } => decide_requeue(views, unique_id.as_deref()),
        Command::Worker {
            running,
            by_operator,
        } => {
            let by_operator = *by_operator;
            let kind = if *running {
                EventKind::WorkerStarted { by_operator }
            } else {
                EventKind::WorkerStopped { by_operator }
            };
            Ok(vec![NewEvent::workshop(kind)])
        }
        Command::ReportErp {
            login,
            fault,
            since_ms,
        } => {
            let kind = match fault {
                Some(fault) => EventKind::IntegrationDown {
                    fault: fault.clone(),
                    since_ms: *since_ms,
                    login: login.clone(),
                },
                None => EventKind::IntegrationUp {
                    login: login.clone(),
                },
            };
            if views.health.already(&kind) {
                return Ok(Vec::new());
            }
            Ok(vec![NewEvent::workshop(kind)])
        }
        Command::RecordOperatorAction {
            unique_id,
            action,
            by,
        } => Ok(vec![NewEvent {
            unique_id: unique_id.clone(),
            trace_id: None,
            kind: EventKind::OperatorAction {
                action: action.clone(),
                by: by.clone(),
            },
        }]),
    }
}

/// True when an id may (still) be used for a new order.
fn is_free(views: &Views, unique_id: &str) -> bool {
    views
        .order(unique_id)
        .is_none_or(|o| o.status == Status::BadRequest)
}

fn decide_create(
    views: &Views,
    unique_id: &str,
    order: &OrderData,
    has_credentials: bool,
    trace_id: &Option<String>,
    span_id: Option<String>,
) -> Decision {
    if let Some(existing) = views
        .order(unique_id)
        .filter(|_| !is_free(views, unique_id))
    {
        return Err(Refusal::Duplicate(Box::new(existing.into_owned())));
    }
    let kind = EventKind::Received {
        order: order.clone(),
        credentials_ref: has_credentials.then(|| credentials_key(unique_id)),
        span_id,
    };
    Ok(vec![NewEvent::order(unique_id, trace_id.as_deref(), kind)])
}

/// The key under which an order's encrypted credentials are stored.
pub fn credentials_key(unique_id: &str) -> String {
    format!("order/{unique_id}")
}

fn decide_reject(
    views: &Views,
    unique_id: &str,
    reason: &str,
    trace_id: &Option<String>,
) -> Decision {
    match views.order(unique_id) {
        Some(existing) if existing.status != Status::BadRequest => {
            Err(Refusal::Duplicate(Box::new(existing.into_owned())))
        }
        _ => {
            let kind = EventKind::BadRequest {
                reason: reason.to_string(),
            };
            Ok(vec![NewEvent::order(unique_id, trace_id.as_deref(), kind)])
        }
    }
}

/// Every order on the queue is cleared, except that one with a save whose
/// outcome is unknown is cleared only after its settle check (it only
/// looks from now on; see [`decide_fail`]); one already waiting for that
/// check is left as it is.
fn decide_clear(views: &Views, queue: QueueKind) -> Vec<NewEvent> {
    views
        .queue(queue)
        .filter(|o| !o.clear_after_check)
        .map(|o| {
            let after_check = queue == QueueKind::Task && o.submitted.is_some();
            let kind = EventKind::Cleared { queue, after_check };
            NewEvent::order(&o.unique_id, None, kind)
        })
        .collect()
}

fn decide_requeue(views: &Views, unique_id: Option<&str>) -> Decision {
    match unique_id {
        Some(id) => {
            let order = views.order(id).ok_or(Refusal::Unknown)?;
            if order.status != Status::Failed {
                return Err(Refusal::NotApplicable(order.status));
            }
            Ok(vec![NewEvent::order(id, None, EventKind::Requeued)])
        }
        None => Ok(views
            .queue(QueueKind::Error)
            .map(|o| NewEvent::order(&o.unique_id, None, EventKind::Requeued))
            .collect()),
    }
}
