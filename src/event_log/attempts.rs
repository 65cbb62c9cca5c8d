//! Deciding an attempt's start and its outcome: whether it may add the
//! line (an unsettled save, used-up attempts, a crash loop), and whether a
//! failure ends the order. Plain decisions, no I/O (see [`super::commands`]).

use crate::order::FailureKind;

use super::commands::{Command, Decision, Refusal};
use super::events::{EventKind, NewEvent, QueueKind};
use super::retry::{crash_loop_reason, judge_failure, CrashLoopEnd, RetryPolicy};
use super::views::{OrderView, Status, Views};

/// An attempt may add the line unless an earlier save is unsettled, or the
/// attempts are used up while a save is open (then it only looks: the
/// check before failing).
pub(super) fn decide_start(
    views: &Views,
    unique_id: &str,
    trace_id: &Option<String>,
    now_ms: u64,
    policy: &RetryPolicy,
) -> Decision {
    let order = views.order(unique_id).ok_or(Refusal::Unknown)?;
    if !order.is_pending() {
        return Err(Refusal::NotApplicable(order.status));
    }
    // An attempt still in flight when the next one starts is one the
    // process died in.
    let crashes = order.crashes + u32::from(order.in_flight());
    let crash_looping = crashes >= policy.crash_limit.max(1);
    if let Some(reason) = crash_loop_verdict(&order, crashes, policy) {
        let failed = EventKind::failed_outright(reason, FailureKind::CrashLoop, order.attempt);
        return Ok(vec![NewEvent::order(
            unique_id,
            trace_id.as_deref(),
            failed,
        )]);
    }
    let settling = order.unsettled(now_ms, policy.settle_ms).is_some();
    // Attempts used up, or a crash loop, with a save still open: this is
    // the look before failing.
    let used_up = order.attempts_in_round >= policy.max_attempts;
    let last_look = (used_up || crash_looping) && order.submitted.is_some();
    let kind = EventKind::Processing {
        attempt: order.attempt + 1,
        may_add: !settling && !last_look && !order.clear_after_check,
    };
    Ok(vec![NewEvent::order(unique_id, trace_id.as_deref(), kind)])
}

/// Whether an order the process died on too often fails now, and why
/// (design.md rule 6): at once when none of its saves was submitted (no
/// line can be on the case); when one was, only after a look at the case,
/// and, if that look died too, saying that the save may have landed.
pub(super) fn crash_loop_verdict(
    order: &OrderView,
    crashes: u32,
    policy: &RetryPolicy,
) -> Option<String> {
    let limit = policy.crash_limit.max(1);
    match order.submitted {
        _ if crashes < limit => None,
        None => Some(crash_loop_reason(crashes, CrashLoopEnd::NothingSaved)),
        Some(_) if crashes > limit => Some(crash_loop_reason(crashes, CrashLoopEnd::Unchecked)),
        Some(_) => None,
    }
}

pub(super) fn current_attempt(
    views: &Views,
    unique_id: &str,
    attempt: u32,
) -> Result<OrderView, Refusal> {
    let order = views.order(unique_id).ok_or(Refusal::Unknown)?;
    if order.status != Status::Processing || order.attempt != attempt {
        return Err(Refusal::NotApplicable(order.status));
    }
    Ok(order.into_owned())
}

/// Whether the order was cleared while `attempt` ran: if that attempt books
/// the line, the order is `completed` after all (the ERP has it).
pub(super) fn cleared_during(views: &Views, unique_id: &str, attempt: u32) -> bool {
    views.order(unique_id).is_some_and(|o| {
        o.status == Status::Failed && o.reason.as_deref() == Some("cleared") && o.attempt == attempt
    })
}

pub(super) fn decide_fail(views: &Views, command: &Command) -> Decision {
    let Command::Fail {
        unique_id,
        attempt,
        failure,
        evidence,
        duration_ms,
        policy,
        now_ms,
        trace_id,
        charge,
    } = command
    else {
        return Err(Refusal::Unknown);
    };
    let order = current_attempt(views, unique_id, *attempt)?;
    let uncharged = !charge && !failure.is_final() && failure.kind != FailureKind::Unsettled;
    let (is_final, reason, retry_at_ms) = if uncharged {
        // Not the order's fault: it keeps its attempts and its place; the
        // worker takes it again once the ERP works.
        let at = now_ms + policy.backoff_ms(0);
        (false, failure.reason.clone(), Some(at))
    } else {
        judge_failure(&order, *attempt, failure, policy, *now_ms)
    };
    let failed = EventKind::Failed {
        reason,
        failure: Some(failure.kind),
        is_final,
        attempt: *attempt,
        screenshot: evidence.screenshot.clone(),
        page_source: evidence.page_source.clone(),
        duration_ms: *duration_ms,
        uncharged: uncharged && order.charged,
    };
    let trace = trace_id.as_deref();
    let cleared = EventKind::Cleared {
        queue: QueueKind::Task,
        after_check: false,
    };
    if is_final && order.clear_after_check && failure.kind == FailureKind::Unsettled {
        // The settle check found no line: the operator's clear takes effect.
        return Ok(vec![NewEvent::order(unique_id, trace, cleared)]);
    }
    let mut events = vec![NewEvent::order(unique_id, trace, failed)];
    if let (false, Some(at_ms)) = (is_final, retry_at_ms) {
        let next_attempt = attempt + 1;
        let kind = EventKind::RetryScheduled {
            next_attempt,
            at_ms,
        };
        events.push(NewEvent::order(unique_id, trace, kind));
    }
    if is_final && order.clear_after_check {
        // Failed for good while a clear waited: the clear takes effect.
        events.push(NewEvent::order(unique_id, trace, cleared));
    }
    Ok(events)
}
