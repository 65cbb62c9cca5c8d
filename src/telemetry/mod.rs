//! Telemetry: logs, metrics. Called from everywhere; calls nothing back.
pub mod logging;
pub mod metrics;
