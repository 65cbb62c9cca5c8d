//! The retry policy a workshop runs with: attempts, backoff and the settle
//! time of an unconfirmed save.

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
}

/// The default settle time: 120 s.
pub const DEFAULT_SETTLE_MS: u64 = 120_000;

/// How soon a parked order (an unsettled save) is looked at again, in ms.
pub const LOOK_AGAIN_MS: u64 = 3_000;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            settle_ms: DEFAULT_SETTLE_MS,
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
