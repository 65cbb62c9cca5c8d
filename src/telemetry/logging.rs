//! Structured logs on stderr: readable text by default, JSON lines with
//! `OILMAT_LOG_FORMAT=json`; the filter from `RUST_LOG`.

use tracing_subscriber::{fmt, EnvFilter};

/// The filter when `RUST_LOG` is not set: our info, the chatty crates quiet.
pub const DEFAULT_FILTER: &str =
    "info,thirtyfour=warn,fjall=warn,lsm_tree=warn,actix_server=warn,actix_web=warn,reqwest=warn,hyper=warn";

/// Installs the global subscriber; later calls do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = std::env::var("OILMAT_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
