//! Counters derived from the log (so they survive restarts) and the small
//! fixed set of classes final failures are counted by (fit for a metric label).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::order::FailureKind;

/// The classes [`failure_class`] sorts final failures into.
pub const FAILURE_CLASSES: [&str; 8] = [
    "login_failed",
    "unknown_item",
    "unknown_case",
    "closed_case",
    "bad_input",
    "retries_exhausted",
    "erp_unavailable",
    "other",
];

/// Reads `failed_by_class` back: every key one of [`FAILURE_CLASSES`].
fn failure_classes<'de, D>(de: D) -> Result<BTreeMap<&'static str, u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let read: BTreeMap<String, u64> = Deserialize::deserialize(de)?;
    read.into_iter()
        .map(|(class, n)| {
            FAILURE_CLASSES
                .iter()
                .find(|c| **c == class)
                .map(|c| (*c, n))
                .ok_or_else(|| serde::de::Error::custom(format!("unknown failure class {class:?}")))
        })
        .collect()
}

/// The class of a final failure's reason, one of [`FAILURE_CLASSES`]
/// (a small fixed set, fit for a metric label); for reasons of old logs.
pub fn failure_class(reason: &str) -> &'static str {
    failure_class_of(FailureKind::from_reason(reason))
}

/// The class of a final failure of `kind`: the order's own faults and a
/// refused login by name, retryable kinds (final only once the attempts are
/// used up) as `retries_exhausted`.
pub fn failure_class_of(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::LoginFailed
        | FailureKind::UnknownItem
        | FailureKind::UnknownCase
        | FailureKind::ClosedCase
        | FailureKind::BadInput
        | FailureKind::ErpUnavailable => kind.as_str(),
        FailureKind::Timeout
        | FailureKind::Webdriver
        | FailureKind::ErpServerError
        | FailureKind::SessionExpired
        | FailureKind::Unsettled
        | FailureKind::CrashLoop => "retries_exhausted",
        FailureKind::Cleared | FailureKind::Other => "other",
    }
}

/// Counters derived from the log, so they survive restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// `received` events (requeues not counted).
    pub received: u64,
    /// `bad request` events.
    pub bad_requests: u64,
    /// Attempts started.
    pub attempts: u64,
    /// Attempts after the first of a round.
    pub retries: u64,
    /// Orders completed.
    pub completed: u64,
    /// Completed orders whose line was already on the case.
    pub completed_already_present: u64,
    /// Orders failed for good.
    pub failed: u64,
    /// Orders failed for good, by [`failure_class`] of their reason.
    #[serde(deserialize_with = "failure_classes")]
    pub failed_by_class: BTreeMap<&'static str, u64>,
    /// Orders cleared by an operator.
    pub cleared: u64,
    /// Orders requeued.
    pub requeued: u64,
}
