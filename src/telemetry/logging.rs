//! Structured logs on stderr: readable text by default, JSON lines with
//! `OILMAT_LOG_FORMAT=json`; the filter from `RUST_LOG`.

use tracing_subscriber::{fmt, EnvFilter};

/// The filter when `RUST_LOG` is not set: our info, the chatty crates quiet.
pub const DEFAULT_FILTER: &str =
    "info,thirtyfour=warn,fjall=warn,lsm_tree=warn,actix_server=warn,actix_web=warn,reqwest=warn,hyper=warn";

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

/// Installs the global subscriber; later calls do nothing.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = std::env::var("OILMAT_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // A full disk must not turn a failed log write into a panic (the default
    // reports it with eprintln!, which panics when stderr itself fails).
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
