//! How one integration retries, waits and keeps its browser and evidence:
//! typed tables that the TOML file (`[workshops.NAME.retry]` and so on),
//! `PUT /integrations/{workshop}` (the same objects as JSON) and the flags of
//! `oilmat-erp workshop` fill alike. A table left out takes its defaults;
//! a field left out of a table takes its default; an unknown field is an
//! error that names it.

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

/// How order-specific retryable faults are retried (design.md rule 6):
/// the wait doubles after each failed attempt, up to a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per order before it fails for good (at least 1). Default 12.
    #[arg(long = "max-attempts", default_value_t = RetryPolicy::DEFAULT.max_attempts)]
    pub max_attempts: u32,
    /// Delay before the first retry, in ms; it doubles each time. Default 2000.
    #[arg(long = "initial-backoff-ms", default_value_t = RetryPolicy::DEFAULT.initial_backoff_ms)]
    pub initial_backoff_ms: u64,
    /// The longest delay between attempts, in ms. Default 300000 (5 min).
    #[arg(long = "max-backoff-ms", default_value_t = RetryPolicy::DEFAULT.max_backoff_ms)]
    pub max_backoff_ms: u64,
    /// Integration faults in a row (ERP unreachable, pages without their
    /// landmarks, a dead browser) that take the integration down. Default 3.
    #[arg(long = "breaker-threshold", default_value_t = RetryPolicy::DEFAULT.breaker_threshold)]
    pub breaker_threshold: u32,
    /// While down, the first wait between reachability checks, in ms; it
    /// doubles. Default 5000.
    #[arg(long = "check-initial-ms", default_value_t = RetryPolicy::DEFAULT.check_initial_ms)]
    pub check_initial_ms: u64,
    /// The longest wait between reachability checks, in ms. Default 60000.
    #[arg(long = "check-max-ms", default_value_t = RetryPolicy::DEFAULT.check_max_ms)]
    pub check_max_ms: u64,
    /// How long an order may wait for an ERP that is down before it fails
    /// (`ERP unavailable since ...`), in seconds. Default 604800 (7 days).
    #[arg(long = "max-age-secs", default_value_t = RetryPolicy::DEFAULT.max_age_secs)]
    pub max_age_secs: u64,
    /// Attempts of one order that may end with the process dying before
    /// the order fails as a crash loop (at least 1). Default 3.
    #[arg(long = "crash-limit", default_value_t = RetryPolicy::DEFAULT.crash_limit)]
    pub crash_limit: u32,
    /// The longest `unique_id` `/create` accepts, in characters (1 to
    /// 1024). Default 128.
    #[arg(long = "max-unique-id-len", default_value_t = RetryPolicy::DEFAULT.max_unique_id_len)]
    pub max_unique_id_len: usize,
}

impl RetryPolicy {
    /// 12 attempts, 2 s doubling, capped at 5 min.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 12,
        initial_backoff_ms: 2_000,
        max_backoff_ms: 300_000,
        breaker_threshold: 3,
        check_initial_ms: 5_000,
        check_max_ms: 60_000,
        max_age_secs: 7 * 24 * 3600,
        crash_limit: 3,
        max_unique_id_len: 128,
    };

    /// The longest unique id `/create` accepts, kept within 1 to 1024.
    pub fn unique_id_limit(&self) -> usize {
        self.max_unique_id_len.clamp(1, 1024)
    }

    /// The event log's policy: at least one attempt, the cap never below
    /// the first wait; `settle` is how long an unconfirmed save settles.
    pub fn policy(&self, settle: Duration) -> crate::event_log::RetryPolicy {
        crate::event_log::RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            initial_backoff_ms: self.initial_backoff_ms,
            max_backoff_ms: self.max_backoff_ms.max(self.initial_backoff_ms),
            settle_ms: settle.as_millis() as u64,
            crash_limit: self.crash_limit.max(1),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

/// How long a browser step, an attempt and an unconfirmed save may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// The longest one browser step may take, in seconds (at least 1). Default 20.
    #[arg(long = "step-timeout-secs", default_value_t = Timeouts::DEFAULT.step_secs)]
    pub step_secs: u64,
    /// The longest a whole attempt may take, in seconds (at least 5). Default 120.
    #[arg(long = "attempt-timeout-secs", default_value_t = Timeouts::DEFAULT.attempt_secs)]
    pub attempt_secs: u64,
    /// How long a submitted but unconfirmed save is given before the case is
    /// read again, in seconds. Default 120. (Read, not yet acted on.)
    #[arg(long = "settle-secs", default_value_t = Timeouts::DEFAULT.settle_secs)]
    pub settle_secs: u64,
}

impl Timeouts {
    /// 20 s a step, 120 s an attempt, 120 s to settle.
    pub const DEFAULT: Timeouts = Timeouts {
        step_secs: 20,
        attempt_secs: 120,
        settle_secs: 120,
    };

    /// The step deadline.
    pub fn step(&self) -> Duration {
        Duration::from_secs(self.step_secs.max(1))
    }

    /// The attempt deadline.
    pub fn attempt(&self) -> Duration {
        Duration::from_secs(self.attempt_secs.max(5))
    }

    /// The settle time of an unconfirmed save.
    pub fn settle(&self) -> Duration {
        Duration::from_secs(self.settle_secs)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::DEFAULT
    }
}

/// The workshop's browser session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct BrowserSettings {
    /// Close the browser after this many seconds without an order. Default 300.
    #[arg(long = "idle-close-secs", default_value_t = BrowserSettings::DEFAULT.idle_close_secs)]
    pub idle_close_secs: u64,
}

impl BrowserSettings {
    /// Closed after 5 idle minutes.
    pub const DEFAULT: BrowserSettings = BrowserSettings {
        idle_close_secs: 300,
    };

    /// The idle time after which the browser closes.
    pub fn idle_close(&self) -> Duration {
        Duration::from_secs(self.idle_close_secs)
    }
}

impl Default for BrowserSettings {
    fn default() -> Self {
        BrowserSettings::DEFAULT
    }
}

/// How much evidence of failed attempts (screenshots, page sources) is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceSettings {
    /// Delete evidence older than this many days. Default 30.
    #[arg(long = "evidence-max-age-days", default_value_t = EvidenceSettings::DEFAULT.max_age_days)]
    pub max_age_days: u64,
    /// Keep at most this many evidence files (the newest). Default 2000.
    #[arg(long = "evidence-max-files", default_value_t = EvidenceSettings::DEFAULT.max_files)]
    pub max_files: usize,
}

impl EvidenceSettings {
    /// 30 days, 2000 files.
    pub const DEFAULT: EvidenceSettings = EvidenceSettings {
        max_age_days: 30,
        max_files: 2000,
    };

    /// The age past which evidence is deleted.
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_days.saturating_mul(24 * 3600))
    }
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        EvidenceSettings::DEFAULT
    }
}

/// Every tuning table of one integration; the flags of `oilmat-erp workshop`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
pub struct Tuning {
    /// `[workshops.NAME.retry]`.
    #[command(flatten)]
    pub retry: RetryPolicy,
    /// `[workshops.NAME.timeouts]`.
    #[command(flatten)]
    pub timeouts: Timeouts,
    /// `[workshops.NAME.browser]`.
    #[command(flatten)]
    pub browser: BrowserSettings,
    /// `[workshops.NAME.evidence]`.
    #[command(flatten)]
    pub evidence: EvidenceSettings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_follow_design_rule_6() {
        let policy = Tuning::default().retry.policy(Timeouts::default().settle());
        assert_eq!(policy.max_attempts, 12);
        assert_eq!(policy.backoff_ms(1), 2_000);
        assert_eq!(policy.backoff_ms(2), 4_000);
        assert_eq!(policy.backoff_ms(11), 300_000);
        assert_eq!(Timeouts::default().settle(), Duration::from_secs(120));
    }

    #[test]
    fn nonsense_is_clamped() {
        let policy = RetryPolicy {
            max_attempts: 0,
            initial_backoff_ms: 500,
            max_backoff_ms: 10,
            ..RetryPolicy::DEFAULT
        }
        .policy(Duration::from_secs(120));
        assert_eq!((policy.max_attempts, policy.max_backoff_ms), (1, 500));
        let timeouts = Timeouts {
            step_secs: 0,
            attempt_secs: 1,
            settle_secs: 0,
        };
        assert_eq!(timeouts.step(), Duration::from_secs(1));
        assert_eq!(timeouts.attempt(), Duration::from_secs(5));
    }
}
