//! Structured logs on stderr (or in a file: [`init_to_file`]): readable text by default, JSON lines with
//! `OILMAT_LOG_FORMAT=json`; the filter from `RUST_LOG` (it applies to the
//! exported traces too), then hard caps no `RUST_LOG` can lift ([`hard_caps`]). Installs the trace exporter of [`super::tracing_otel`].

use std::path::Path;
use std::sync::Arc;

use tracing::Subscriber;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// The filter when `RUST_LOG` is not set: our info, the chatty crates quiet.
pub const DEFAULT_FILTER: &str =
    "info,thirtyfour=warn,fjall=warn,lsm_tree=warn,actix_server=warn,actix_web=warn,reqwest=warn,hyper=warn";

/// Client crates capped at warn whatever `RUST_LOG` says (span directives
/// such as `[login]=trace` included): thirtyfour's debug lines show each
/// WebDriver command's body, the typed ERP password included, and the HTTP
/// stack underneath logs the same bodies.
pub const HARD_CAPPED: [&str; 9] = [
    "thirtyfour",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "http_body",
    "tower",
    "rustls",
    "opentelemetry",
];

/// The filter from `RUST_LOG` (else [`DEFAULT_FILTER`]).
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// The hard caps ([`HARD_CAPPED`] at warn, everything else open), applied
/// after [`filter`] so that no `RUST_LOG` value can lift them.
pub fn hard_caps() -> Targets {
    HARD_CAPPED.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |caps, target| caps.with_target(*target, LevelFilter::WARN),
    )
}

/// [`filter`], then [`hard_caps`]: what the log and trace layers see.
pub fn capped_filter<S>() -> impl tracing_subscriber::layer::Filter<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    filter().and(hard_caps())
}

/// Panics are logged as errors (with the thread and location), never printed
/// in a way that could fail and abort the process.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(%thread, %location, %message, "panic");
    }));
}

/// Installs the global subscriber (logs on stderr, and traces when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set); later calls do nothing. Call it
/// before any async runtime starts; call [`super::shutdown`] at the end.
pub fn init() {
    init_with(BoxMakeWriter::new(std::io::stderr), true);
}

/// [`init`], but the log lines are appended to `path` (no colours), for a
/// command whose stdout and stderr are for people (the demo).
pub fn init_to_file(path: &Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    init_with(BoxMakeWriter::new(Arc::new(file)), false);
    Ok(())
}

fn init_with(writer: BoxMakeWriter, ansi: bool) {
    let traces = super::tracing_otel::layer();
    let (traces, trace_error) = match traces {
        Ok(layer) => (layer, None),
        Err(e) => (None, Some(e)),
    };
    // Each layer filters on its own, so step timings stay whatever RUST_LOG says.
    let steps = super::steps::StepTimings.with_filter(
        tracing_subscriber::filter::Targets::new().with_target("oilmat_erp", tracing::Level::INFO),
    );
    let installed = tracing_subscriber::registry()
        .with(log_layer(writer, ansi).with_filter(capped_filter()))
        .with(traces.with_filter(capped_filter()))
        .with(steps)
        .try_init()
        .is_ok();
    if let Some(e) = trace_error.filter(|_| installed) {
        tracing::warn!(error = %e, "cannot export traces; logging only");
    }
    if installed && super::tracing_otel::is_enabled() {
        tracing::info!("exporting traces over OTLP/HTTP");
    }
}

/// Log lines to `writer`: text, or JSON with `OILMAT_LOG_FORMAT=json`. Either
/// way every line shows the fields of the spans it is in, so a line logged
/// while handling an order names its workshop and unique id.
fn log_layer<S>(writer: BoxMakeWriter, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let json = std::env::var("OILMAT_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // A full disk must not turn a failed log write into a panic (the default
    // reports it with eprintln!, which panics when stderr itself fails).
    let layer = fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .log_internal_errors(false);
    if json {
        layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .boxed()
    } else {
        layer.with_target(false).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_crates_stay_at_warn() {
        let caps = hard_caps();
        for target in [
            "thirtyfour::session::http",
            "reqwest::connect",
            "hyper_util::client",
            "h2::codec",
        ] {
            assert!(
                !caps.would_enable(target, &tracing::Level::INFO),
                "{target}"
            );
            assert!(caps.would_enable(target, &tracing::Level::WARN), "{target}");
        }
        assert!(caps.would_enable("oilmat_erp::workshop", &tracing::Level::TRACE));
    }
}
