//! Traces over OpenTelemetry: the `tracing` spans exported over OTLP/HTTP
//! (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set and the build has the `otlp`
//! cargo feature (on by default). Without it no layer is installed and
//! [`continue_trace`] returns at once: off and costless.
//!
//! One trace per order, one tree: a request's server span continues the
//! caller's W3C `traceparent` (read by the SDK's propagator, [`incoming`]),
//! or is the root of a new trace. Its trace id and span id are kept in the
//! order's `received` event, and every attempt span is a child of that span
//! ([`continue_trace`]); the trace id in an order's events *is* the
//! OpenTelemetry trace id, so support can jump from an event to its trace.
//! The standard `OTEL_*` variables (service name, resource attributes,
//! headers, timeout, batch settings) are honoured by the SDK.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
#[cfg(feature = "otlp")]
use tracing_subscriber::{registry::LookupSpan, Layer};

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
#[cfg(feature = "otlp")]
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

/// Why no spans are exported although the environment asks for it.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The OTLP exporter could not be built.
    #[cfg(feature = "otlp")]
    #[error(transparent)]
    Build(#[from] opentelemetry_otlp::ExporterBuildError),
    /// This build was made without the `otlp` cargo feature.
    #[cfg(not(feature = "otlp"))]
    #[error("this build has no OTLP export (built without the `otlp` feature); OTEL_EXPORTER_OTLP_ENDPOINT is ignored")]
    NotBuiltIn,
}

/// The layer that exports spans, if the environment asks for it (and it was
/// not built before). Build it outside any async runtime: the blocking HTTP
/// client must not be created inside one.
#[cfg(feature = "otlp")]
pub fn layer<S>() -> Result<Option<impl Layer<S>>, ExportError>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
    use tracing_subscriber::filter::filter_fn;

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

/// Without the `otlp` feature there is no exporter: no layer, and an error
/// (logged as a warning) when the environment asks for export.
#[cfg(not(feature = "otlp"))]
pub fn layer() -> Result<Option<tracing_subscriber::layer::Identity>, ExportError> {
    if requested() {
        Err(ExportError::NotBuiltIn)
    } else {
        Ok(None)
    }
}

/// `service.name` from `OTEL_SERVICE_NAME`, else [`SERVICE_NAME`], plus
/// `OTEL_RESOURCE_ATTRIBUTES`.
#[cfg(feature = "otlp")]
fn resource() -> opentelemetry_sdk::Resource {
    let builder = opentelemetry_sdk::Resource::builder();
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

/// Where a span sits in its trace: the ids an order's `received` event keeps,
/// 32 and 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceIds {
    /// The W3C trace id.
    pub trace_id: String,
    /// The span's own id; `None` when no span is exported (tracing off).
    pub span_id: Option<String>,
}

/// The caller's span in an incoming request's W3C `traceparent` (and
/// `tracestate`), as the SDK's [`TraceContextPropagator`] reads them;
/// invalid (`!is_valid()`) when the request carries none or a malformed one.
pub fn incoming(headers: &dyn Extractor) -> SpanContext {
    TraceContextPropagator::new()
        .extract_with_context(&opentelemetry::Context::new(), headers)
        .span()
        .span_context()
        .clone()
}

/// Starts `span` (a request's server span, not yet entered) in its trace:
/// under `caller` when valid, else as the root of a new trace. Returns the
/// span's ids; with tracing off, the caller's trace id (else a fresh one)
/// and no span id.
pub fn start_request_span(span: &tracing::Span, caller: &SpanContext) -> TraceIds {
    if is_enabled() {
        if caller.is_valid() {
            set_parent(span, caller.clone());
        }
        let own = span.context().span().span_context().clone();
        if own.is_valid() {
            return TraceIds {
                trace_id: own.trace_id().to_string(),
                span_id: Some(own.span_id().to_string()),
            };
        }
    }
    let trace_id = if caller.is_valid() {
        caller.trace_id()
    } else {
        random_trace_id()
    };
    TraceIds {
        trace_id: trace_id.to_string(),
        span_id: None,
    }
}

/// Puts `span` (not yet entered) into the trace `trace_id` (32 hex digits),
/// as a child of the span `parent_span_id` (16 hex digits; an order's
/// `/create` server span). An order from an older log has no stored span
/// id: then the parent is a random id, so the span still carries the trace
/// id its events show. Does nothing when tracing is off or `trace_id` is not
/// a valid W3C trace id.
pub fn continue_trace(span: &tracing::Span, trace_id: &str, parent_span_id: Option<&str>) {
    if !is_enabled() {
        return;
    }
    let Some(parent) = remote_parent(trace_id, parent_span_id) else {
        tracing::debug!(trace_id, "not a W3C trace id; span starts its own trace");
        return;
    };
    set_parent(span, parent);
}

fn set_parent(span: &tracing::Span, parent: SpanContext) {
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

fn random_trace_id() -> TraceId {
    let id: u128 = rand::random::<u128>().max(1);
    TraceId::from_bytes(id.to_be_bytes())
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

    /// Headers as a request carries them.
    struct Headers<'a>(Vec<(&'static str, &'a str)>);

    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            let found = self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key));
            found.map(|(_, v)| *v)
        }

        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| *k).collect()
        }
    }

    #[test]
    fn the_callers_span_is_read_from_traceparent() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let caller = incoming(&Headers(vec![("traceparent", tp)]));
        assert_eq!(
            caller.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(caller.span_id().to_string(), "00f067aa0ba902b7");
        assert!(caller.is_remote() && caller.is_sampled());
        for bad in [
            "00-abc",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            assert!(
                !incoming(&Headers(vec![("traceparent", bad)])).is_valid(),
                "{bad}"
            );
        }
        assert!(!incoming(&Headers(vec![])).is_valid());
    }

    #[test]
    fn without_tracing_a_request_keeps_the_callers_trace_id_or_gets_a_new_one() {
        let span = tracing::info_span!("request");
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let caller = incoming(&Headers(vec![("traceparent", tp)]));
        let ids = start_request_span(&span, &caller);
        assert_eq!(ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ids.span_id, None);
        let fresh = start_request_span(&span, &SpanContext::empty_context());
        assert_eq!(fresh.trace_id.len(), 32);
        assert_ne!(fresh.trace_id, "0".repeat(32));
        assert_ne!(fresh.trace_id, ids.trace_id);
    }

    #[test]
    fn off_without_an_endpoint_costs_nothing() {
        // No layer built in unit tests: continue_trace returns at once.
        let span = tracing::info_span!("x");
        continue_trace(&span, "4bf92f3577b34da6a3ce929d0e0e4736", None);
        assert!(!is_enabled());
    }
}
