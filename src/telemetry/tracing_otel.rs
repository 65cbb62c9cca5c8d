//! Traces over OpenTelemetry: the `tracing` spans exported over OTLP/HTTP
//! (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. Without it no layer is
//! installed and [`continue_trace`] returns at once: off and costless.
//!
//! One trace per order: the trace id stored in an order's events *is* the
//! OpenTelemetry trace id. The request span and every attempt span are put
//! under a remote parent carrying that id, so support can jump from an event
//! to its trace. The standard `OTEL_*` variables (service name, resource
//! attributes, headers, timeout, batch settings) are honoured by the SDK.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::{ExporterBuildError, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The variables that switch exporting on (either one, non-empty).
pub const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The service name when `OTEL_SERVICE_NAME` is not set.
pub const SERVICE_NAME: &str = "oilmat-erp";

/// How long [`shutdown`] may take to send what is still buffered; `/kill`
/// promises an exit within 5 s.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// Crates whose spans and events never become trace data: thirtyfour's
/// debug events show the WebDriver commands, typed text (passwords)
/// included; the HTTP stack would trace the exporter's own requests.
const NEVER_EXPORTED: [&str; 5] = ["thirtyfour", "reqwest", "hyper", "h2", "opentelemetry"];

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// True when the environment asks for trace export.
pub fn requested() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v.eq_ignore_ascii_case("none"));
    !disabled && ENDPOINT_VARS.iter().any(|name| set(name))
}

/// True once the exporting layer was built (by [`layer`]).
pub fn is_enabled() -> bool {
    PROVIDER.get().is_some()
}

/// The layer that exports spans, if the environment asks for it (and it was
/// not built before). Build it outside any async runtime: the blocking HTTP
/// client must not be created inside one.
pub fn layer<S>() -> Result<Option<impl Layer<S>>, ExporterBuildError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    if !requested() || is_enabled() {
        return Ok(None);
    }
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build();
    let tracer = provider.tracer(SERVICE_NAME);
    if PROVIDER.set(provider).is_err() {
        return Ok(None);
    }
    let exportable = filter_fn(|meta| {
        let target = meta.target();
        !NEVER_EXPORTED.iter().any(|t| target.starts_with(t))
    });
    Ok(Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_threads(false)
            .with_filter(exportable),
    ))
}

/// `service.name` from `OTEL_SERVICE_NAME`, else [`SERVICE_NAME`], plus
/// `OTEL_RESOURCE_ATTRIBUTES`.
fn resource() -> Resource {
    let builder = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty()) {
        builder.build()
    } else {
        builder.with_service_name(SERVICE_NAME).build()
    }
}

/// Sends the spans still buffered and stops exporting; waits at most a few
/// seconds. Call it once the job is done, outside the async runtime (main
/// does, after the command returns). Does nothing when tracing is off.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        if let Err(e) = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!(error = %e, "could not flush the last trace spans");
        }
    }
}

/// Puts `span` (not yet entered) into the trace `trace_id` (32 hex digits),
/// under the remote parent `parent_span_id` (16 hex digits; a random one if
/// absent or invalid). Does nothing when tracing is off or `trace_id` is
/// not a valid W3C trace id.
pub fn continue_trace(span: &tracing::Span, trace_id: &str, parent_span_id: Option<&str>) {
    if !is_enabled() {
        return;
    }
    let Some(parent) = remote_parent(trace_id, parent_span_id) else {
        tracing::debug!(trace_id, "not a W3C trace id; span starts its own trace");
        return;
    };
    if let Err(e) = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent))
    {
        tracing::debug!(error = %e, "could not set the span's trace");
    }
}

/// Sets an attribute on `span`'s trace data only (logs don't show it); does
/// nothing when tracing is off.
pub fn set_attribute(
    span: &tracing::Span,
    key: &'static str,
    value: impl Into<opentelemetry::Value>,
) {
    if is_enabled() {
        span.set_attribute(key, value);
    }
}

/// The remote span context of `trace_id` and `parent_span_id` (random when
/// not given or invalid); `None` for an invalid trace id.
pub fn remote_parent(trace_id: &str, parent_span_id: Option<&str>) -> Option<SpanContext> {
    let trace_id = TraceId::from_hex(trace_id)
        .ok()
        .filter(|id| *id != TraceId::INVALID && trace_id.len() == 32)?;
    let span_id = parent_span_id
        .filter(|id| id.len() == 16)
        .and_then(|id| SpanId::from_hex(id).ok())
        .filter(|id| *id != SpanId::INVALID)
        .unwrap_or_else(random_span_id);
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

fn random_span_id() -> SpanId {
    let id: u64 = rand::random::<u64>().max(1);
    SpanId::from_bytes(id.to_be_bytes())
}

/// The parent span id of a W3C `traceparent` header value
/// (`00-<trace id>-<parent id>-<flags>`), if well-formed.
pub fn traceparent_parent_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (_version, _trace, parent) = (parts.next()?, parts.next()?, parts.next()?);
    let hex = parent.len() == 16 && parent.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && parent != "0000000000000000").then_some(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_parent_keeps_the_trace_id() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let parent = remote_parent(id, Some("00f067aa0ba902b7")).unwrap();
        assert_eq!(parent.trace_id().to_string(), id);
        assert_eq!(parent.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parent.is_remote() && parent.is_sampled());
    }

    #[test]
    fn a_missing_or_bad_parent_id_is_random() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        for parent in [None, Some("zz"), Some("0000000000000000")] {
            let cx = remote_parent(id, parent).unwrap();
            assert!(cx.is_valid(), "{parent:?}");
        }
    }

    #[test]
    fn invalid_trace_ids_are_refused() {
        for id in [
            "",
            "abc",
            &"0".repeat(32),
            "xyzf2f3577b34da6a3ce929d0e0e4736",
        ] {
            assert!(remote_parent(id, None).is_none(), "{id}");
        }
    }

    #[test]
    fn traceparent_parent_ids_are_read() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(traceparent_parent_id(tp), Some("00f067aa0ba902b7"));
        assert_eq!(traceparent_parent_id("00-abc"), None);
        assert_eq!(
            traceparent_parent_id("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            None
        );
    }

    #[test]
    fn off_without_an_endpoint_costs_nothing() {
        // No layer built in unit tests: continue_trace returns at once.
        let span = tracing::info_span!("x");
        continue_trace(&span, "4bf92f3577b34da6a3ce929d0e0e4736", None);
        assert!(!is_enabled());
    }
}
