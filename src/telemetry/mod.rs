//! Telemetry: logs, metrics, traces. Called from everywhere; calls nothing
//! back (it imports nothing of workshop, http or erp).

pub mod events;
pub mod logging;
pub mod metrics;
pub mod steps;
pub mod tracing_otel;

/// Flushes what telemetry still buffers (the last trace spans); call it
/// once the command is done, outside the async runtime.
pub fn shutdown() {
    tracing_otel::shutdown();
}
