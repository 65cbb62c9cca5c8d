//! One workshop's actor tree: intake (takes orders into the log), status
//! (answers from the views), queue (picks the next order), browser worker
//! (books it on the ERP), under a supervisor that restarts the worker when
//! it panics or its browser dies. The actors join the event log and the ERP
//! drivers; the HTTP layers talk to these actors only.

mod attempt;
mod booking;
pub mod breaker;
pub mod evidence;
pub mod intake;
pub mod leftovers;
mod outage;
pub mod probe;
pub mod queue;
pub mod status;
pub mod supervisor;
pub mod switch;
pub mod worker;
mod worker_loop;

use std::path::PathBuf;
use std::time::Duration;

use actix::Addr;

use crate::config::Tuning;
use crate::erp::Credentials;
use crate::erp::ErpType;
use crate::erp::{BrowserConfig, WebDriverEndpoint};
use crate::event_log::RetryPolicy;
use crate::secrets::Secret;

pub use supervisor::{start, Workshop};

/// Everything one workshop integration needs to run.
#[derive(Debug, Clone)]
pub struct WorkshopSettings {
    /// The workshop's name: its folder under the data dir and its metrics label.
    pub name: String,
    /// Which ERP it books into.
    pub erp_type: ErpType,
    /// The ERP's base URL.
    pub erp_url: String,
    /// The data dir; the workshop keeps everything under `data_dir/name/`.
    pub data_dir: PathBuf,
    /// How to reach a browser.
    pub browser: BrowserConfig,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
    /// When the integration goes down, and how it is checked while down.
    pub breaker: breaker::BreakerPolicy,
    /// The longest one browser step may take.
    pub step_timeout: Duration,
    /// The longest a whole attempt may take.
    pub attempt_timeout: Duration,
    /// The browser closes after this long without an order.
    pub idle_close: Duration,
    /// The integration's own ERP login (under `serve`); wins over an order's.
    pub credentials: Option<Credentials>,
    /// The key `/create` callers must send as `X-Api-Key`, if any.
    pub api_key: Option<Secret>,
    /// The longest `unique_id` `/create` accepts.
    pub max_unique_id_len: usize,
    /// How long and how much evidence of failed attempts is kept.
    pub evidence: evidence::Retention,
    /// The periodic synthetic check, if on.
    pub probe: Option<ProbeSettings>,
}

/// The periodic synthetic check of one workshop: log in, open a case, save nothing.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// The case it opens (never changed).
    pub case_id: String,
    /// How often it runs (while the worker is idle).
    pub interval: Duration,
    /// The ERP login it tries.
    pub credentials: Credentials,
}

impl WorkshopSettings {
    /// Settings from an integration's parts and its tuning tables; no login,
    /// API key or probe yet (the caller adds those it has).
    pub fn new(
        name: String,
        erp_type: ErpType,
        erp_url: &url::Url,
        endpoint: WebDriverEndpoint,
        data_dir: PathBuf,
        tuning: &Tuning,
    ) -> WorkshopSettings {
        let step_timeout = tuning.timeouts.step();
        let mut browser = BrowserConfig::new(endpoint);
        browser.step_timeout = step_timeout;
        // A save that never answers holds chromedriver until the page-load
        // timeout; keep it short, but never shorter than a slow first page needs.
        browser.page_load_timeout = step_timeout.max(Duration::from_secs(15));
        WorkshopSettings {
            name,
            erp_type,
            erp_url: crate::config::base_url(erp_url).to_string(),
            data_dir,
            browser,
            retry: tuning.retry.policy(tuning.timeouts.settle()),
            breaker: breaker_policy(&tuning.retry),
            step_timeout,
            attempt_timeout: tuning.timeouts.attempt(),
            idle_close: tuning.browser.idle_close(),
            credentials: None,
            api_key: None,
            max_unique_id_len: tuning.retry.unique_id_limit(),
            evidence: evidence::Retention {
                max_age: tuning.evidence.max_age(),
                max_files: tuning.evidence.max_files,
            },
            probe: None,
        }
    }

    /// The workshop's own folder.
    pub fn dir(&self) -> PathBuf {
        self.data_dir.join(&self.name)
    }

    /// Where failed attempts leave their screenshots and page sources.
    pub fn evidence_dir(&self) -> PathBuf {
        self.dir().join("evidence")
    }
}

/// The breaker's settings from the retry table: at least one fault; the
/// cap never below the first wait.
fn breaker_policy(retry: &crate::config::RetryPolicy) -> breaker::BreakerPolicy {
    let initial = Duration::from_millis(retry.check_initial_ms.max(100));
    breaker::BreakerPolicy {
        threshold: retry.breaker_threshold.max(1),
        check_initial: initial,
        check_max: Duration::from_millis(retry.check_max_ms).max(initial),
        max_age: Duration::from_secs(retry.max_age_secs.max(1)),
    }
}

/// Tries `creds` on the ERP's login page in a fresh browser, saving nothing
/// (the management API's `?verify=true`): the host reaches the ERP only
/// through the workshop layer.
pub async fn verify_login(
    erp_type: ErpType,
    endpoint: &WebDriverEndpoint,
    base_url: &str,
    creds: &Credentials,
) -> crate::erp::Result<()> {
    crate::erp::verify::verify_login(erp_type, endpoint, base_url, creds).await
}

/// Checks a workshop name: it names a folder, so letters, digits, `-`, `_`, `.`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid workshop name {name:?}: use 1-64 letters, digits, '-', '_' or '.', not starting with '.'"
        ))
    }
}

/// The addresses of a workshop's actors.
#[derive(Clone)]
pub struct Actors {
    /// Takes orders and operator commands into the log.
    pub intake: Addr<intake::Intake>,
    /// Takes orders into the log in the caller's task (no mailbox hop).
    pub intake_desk: intake::IntakeDesk,
    /// Answers status, queue and metrics questions.
    pub status: Addr<status::StatusDesk>,
    /// The browser worker.
    pub worker: Addr<worker::BrowserWorker>,
}

/// A fresh W3C trace id (32 hex digits).
pub fn new_trace_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A unique id made safe for a file name, unique per id: ids that map to
/// the same safe characters (`a/b`, `a:b`) differ in the hash of the whole
/// id that ends the stem.
pub fn file_stem(unique_id: &str) -> String {
    let safe: String = unique_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    format!("{safe}-{:08x}", fnv1a(unique_id.as_bytes()))
}

/// FNV-1a (32 bit): a stable hash, the same in every process and build.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_look_alike_get_their_own_file_stems() {
        assert_ne!(file_stem("a/b"), file_stem("a:b"));
        assert_eq!(file_stem("a/b"), file_stem("a/b"));
        assert!(file_stem("a/b").starts_with("a_b-"));
        let long = "x".repeat(300);
        assert_ne!(file_stem(&long), file_stem(&format!("{long}y")));
    }
}
