//! Deciding: a command, checked against the current views, becomes the events
//! to append (or is refused). No I/O here; the journal appends what is decided.

use crate::order::Failure;

use super::events::{EventKind, NewEvent, OrderData, QueueKind};
use super::views::{OrderView, Status, Views};

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per round before the order fails for good.
    pub max_attempts: u32,
    /// Delay before the second attempt, in ms; doubles each time.
    pub initial_backoff_ms: u64,
    /// The longest delay between attempts, in ms.
    pub max_backoff_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempt`-th attempt of a round failed.
    pub fn backoff_ms(&self, attempt_in_round: u32) -> u64 {
        let doublings = attempt_in_round.saturating_sub(1).min(32);
        self.initial_backoff_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_backoff_ms)
    }
}

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
        } => decide_create(views, unique_id, order, credentials.is_some(), trace_id),
        Command::RejectCreate {
            unique_id,
            reason,
            trace_id,
        } => decide_reject(views, unique_id, reason, trace_id),
        Command::StartAttempt {
            unique_id,
            trace_id,
        } => decide_start(views, unique_id, trace_id),
        Command::Complete {
            unique_id,
            attempt,
            already_present,
            duration_ms,
            trace_id,
        } => {
            current_attempt(views, unique_id, *attempt)?;
            let kind = EventKind::Completed {
                attempt: *attempt,
                already_present: *already_present,
                duration_ms: *duration_ms,
            };
            Ok(vec![NewEvent::order(unique_id, trace_id.as_deref(), kind)])
        }
        Command::Fail { .. } => decide_fail(views, command),
        Command::Clear { queue } => Ok(views
            .queue(*queue)
            .map(|o| NewEvent::order(&o.unique_id, None, EventKind::Cleared { queue: *queue }))
            .collect()),
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

fn decide_start(views: &Views, unique_id: &str, trace_id: &Option<String>) -> Decision {
    let order = views.order(unique_id).ok_or(Refusal::Unknown)?;
    if !order.is_pending() {
        return Err(Refusal::NotApplicable(order.status));
    }
    let kind = EventKind::Processing {
        attempt: order.attempt + 1,
    };
    Ok(vec![NewEvent::order(unique_id, trace_id.as_deref(), kind)])
}

fn current_attempt(views: &Views, unique_id: &str, attempt: u32) -> Result<OrderView, Refusal> {
    let order = views.order(unique_id).ok_or(Refusal::Unknown)?;
    if order.status != Status::Processing || order.attempt != attempt {
        return Err(Refusal::NotApplicable(order.status));
    }
    Ok(order.into_owned())
}

fn decide_fail(views: &Views, command: &Command) -> Decision {
    let Command::Fail {
        unique_id,
        attempt,
        failure,
        evidence,
        duration_ms,
        policy,
        now_ms,
        trace_id,
    } = command
    else {
        return Err(Refusal::Unknown);
    };
    let order = current_attempt(views, unique_id, *attempt)?;
    let used_up = order.attempts_in_round >= policy.max_attempts;
    let retryable = !failure.is_final();
    let is_final = !retryable || used_up;
    let reason = if retryable && used_up {
        format!(
            "{} (gave up after {} attempts)",
            failure.reason, order.attempts_in_round
        )
    } else {
        failure.reason.clone()
    };
    let failed = EventKind::Failed {
        reason,
        failure: Some(failure.kind),
        is_final,
        attempt: *attempt,
        screenshot: evidence.screenshot.clone(),
        page_source: evidence.page_source.clone(),
        duration_ms: *duration_ms,
    };
    let trace = trace_id.as_deref();
    let mut events = vec![NewEvent::order(unique_id, trace, failed)];
    if !is_final {
        let at_ms = now_ms + policy.backoff_ms(order.attempts_in_round);
        let next_attempt = attempt + 1;
        let kind = EventKind::RetryScheduled {
            next_attempt,
            at_ms,
        };
        events.push(NewEvent::order(unique_id, trace, kind));
    }
    Ok(events)
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
