//! The retry policy a workshop runs with: attempts, backoff and the settle
//! time of an unconfirmed save, and how a failure is judged under it.

use super::views::{OrderView, Submission};
use crate::order::{Failure, FailureKind};

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per round before the order fails for good.
    pub max_attempts: u32,
    /// Delay before the second attempt, in ms; doubles each time.
    pub initial_backoff_ms: u64,
    /// The longest delay between attempts, in ms.
    pub max_backoff_ms: u64,
    /// How long after an unconfirmed save the order only looks for its line
    /// before it may add it again, in ms (design.md rule 6).
    pub settle_ms: u64,
    /// Attempts of one order that may end with the process dying (a
    /// `processing` with no outcome) before the order fails as a crash loop.
    pub crash_limit: u32,
}

/// The default settle time: 120 s.
pub const DEFAULT_SETTLE_MS: u64 = 120_000;

/// The default crash-loop limit: 3 attempts cut short by the process dying.
pub const DEFAULT_CRASH_LIMIT: u32 = 3;

/// How soon a parked order (an unsettled save) is looked at again, in ms.
pub const LOOK_AGAIN_MS: u64 = 3_000;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            settle_ms: DEFAULT_SETTLE_MS,
            crash_limit: DEFAULT_CRASH_LIMIT,
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

/// Whether a failure ends the order, its reason, and when to try again.
/// A save whose outcome is unknown keeps the order from failing (and from
/// adding a line) until its settle time has passed and a look found no
/// line; looking costs no attempt.
pub(super) fn judge_failure(
    order: &OrderView,
    attempt: u32,
    failure: &Failure,
    policy: &RetryPolicy,
    now_ms: u64,
) -> (bool, String, Option<u64>) {
    let used_up = order.attempts_in_round >= policy.max_attempts;
    let gave_up = |reason: &str| {
        format!(
            "{reason} (gave up after {} attempts)",
            order.attempts_in_round
        )
    };
    let open = order
        .submitted
        .filter(|_| !refused_save(order.submitted, attempt, failure.kind));
    let settled_at = open.map_or(now_ms, |s| s.at_ms.saturating_add(policy.settle_ms));
    if failure.kind == FailureKind::Unsettled {
        if now_ms >= settled_at && order.clear_after_check {
            // A complete look after the settle time found no line: cleared.
            return (true, "cleared".to_string(), None);
        }
        if now_ms >= settled_at && order.crash_looping(policy) {
            return (
                true,
                crash_loop_reason(order.crashes, CrashLoopEnd::NotFound),
                None,
            );
        }
        if now_ms >= settled_at && used_up {
            let reason =
                "timeout: save not confirmed and no line on the case after the settle time";
            return (true, gave_up(reason), None);
        }
        let at = if now_ms >= settled_at {
            now_ms
        } else {
            (now_ms + LOOK_AGAIN_MS).min(settled_at)
        };
        return (false, failure.reason.clone(), Some(at));
    }
    if failure.is_final() {
        return (true, failure.reason.clone(), None);
    }
    let backoff = now_ms + policy.backoff_ms(order.attempts_in_round);
    match (used_up, open) {
        (false, _) => (false, failure.reason.clone(), Some(backoff)),
        // Attempts used up, but a save may still land: look once more after
        // its settle time before failing.
        (true, Some(_)) => (false, failure.reason.clone(), Some(backoff.max(settled_at))),
        (true, None) => (true, gave_up(&failure.reason), None),
    }
}

/// How a crash loop was last looked at before the order failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CrashLoopEnd {
    /// None of its saves was submitted: no line can be on the case.
    NothingSaved,
    /// A complete read after the settle time found no line.
    NotFound,
    /// The look died too: a save may have landed.
    Unchecked,
}

/// The reason of an order failed as a crash loop: how many of its attempts
/// the process died in, and what is known of its line (design.md rule 6:
/// never "failed" for a booked line without saying so).
pub(super) fn crash_loop_reason(crashes: u32, end: CrashLoopEnd) -> String {
    let known = match end {
        CrashLoopEnd::NothingSaved => "none of its saves was submitted, so no line was added",
        CrashLoopEnd::NotFound => "its line is not on the case",
        CrashLoopEnd::Unchecked => {
            "the case could not be read after its last save: a save may have landed"
        }
    };
    format!("crash loop: the process died during {crashes} attempts of this order; {known}")
}

/// Whether a failure of `kind` in `attempt` says that the ERP refused the
/// submitted save (it showed its error): then the save's outcome is known.
pub fn refused_save(submitted: Option<Submission>, attempt: u32, kind: FailureKind) -> bool {
    kind == FailureKind::ErpServerError && submitted.is_some_and(|s| s.attempt == attempt)
}
