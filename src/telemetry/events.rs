//! Observable events, one struct each: `emit` writes the event's log line
//! and records the metrics that are not derived from the log, together, so
//! the two cannot drift apart (the counters of orders are folded from the
//! log instead; see [`super::metrics`]).

use std::time::Duration;

use super::metrics::AttemptTimings;

/// A browser attempt to book an order ended.
#[derive(Debug, Clone, Copy)]
pub struct AttemptFinished<'a> {
    /// The workshop.
    pub workshop: &'a str,
    /// The order.
    pub unique_id: &'a str,
    /// Its attempt number.
    pub attempt: u32,
    /// `completed` or `failed`.
    pub outcome: &'static str,
    /// The failure's kind, when it failed.
    pub kind: Option<&'a str>,
    /// How long the attempt took.
    pub elapsed: Duration,
}

impl AttemptFinished<'_> {
    /// Logs it and records its duration.
    pub fn emit(self, timings: &AttemptTimings) {
        let ms = self.elapsed.as_millis() as u64;
        match self.kind {
            None => tracing::info!(
                unique_id = self.unique_id,
                attempt = self.attempt,
                ms,
                "attempt completed"
            ),
            Some(kind) => tracing::warn!(
                unique_id = self.unique_id,
                attempt = self.attempt,
                kind,
                ms,
                "attempt failed"
            ),
        }
        timings.observe(self.workshop, self.outcome, self.elapsed);
    }
}

/// An order reached its final status (`completed` or `failed`).
#[derive(Debug, Clone, Copy)]
pub struct OrderFinished<'a> {
    /// The workshop.
    pub workshop: &'a str,
    /// The order.
    pub unique_id: &'a str,
    /// `completed` or `failed`.
    pub outcome: &'static str,
    /// From its `received` to its final event.
    pub elapsed: Duration,
}

impl OrderFinished<'_> {
    /// Logs it and records its end-to-end duration.
    pub fn emit(self) {
        let secs = self.elapsed.as_secs_f64();
        tracing::info!(
            unique_id = self.unique_id,
            outcome = self.outcome,
            secs,
            "order finished"
        );
        super::steps::observe_order(self.workshop, self.outcome, self.elapsed);
    }
}
