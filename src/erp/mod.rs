//! ERP drivers: take an order line and a WebDriver session, put the line on
//! the case through the ERP's web UI exactly once, and say what happened.
//! Knows WebDriver and the UI contract (shared/erp-ui.md); nothing of the
//! event log, HTTP or actors.
//!
//! - [`booking`]: the operations (book a line, log in, look at a case) and
//!   the one place that maps an ERP type to its driver.
//! - [`ui`]: the trait one ERP type implements and what it is given.
//! - [`waiting`]: explicit waits, the login page, stale elements.
//! - `au2office/`, `admanager/`: one folder per ERP type, each with its
//!   driver (`mod.rs`) and its part of the UI contract (`contract.rs`).
//! - [`session`], [`chromedriver`], [`evidence`]: the browser.
//! - [`probe`], [`verify`]: the synthetic check and a credentials check.

mod admanager;
mod au2office;
pub mod booking;
pub mod chromedriver;
pub mod error;
pub mod evidence;
pub mod fields;
pub mod login;
pub mod probe;
pub mod session;
pub mod ui;
pub mod verify;
pub mod waiting;

pub use booking::{book_line, book_line_with, log_in, Credentials, OrderLine, Target};
pub use error::{Failure, Result};
pub use evidence::{capture_evidence, Evidence};
pub use session::{BrowserConfig, BrowserSession, WebDriverEndpoint};
use std::fmt;
use std::str::FromStr;
pub use ui::{BeforeSave, NoHook};

/// The ERP products oilmat-erp can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErpType {
    /// au2office: single-page style UI.
    Au2office,
    /// admanager: server-rendered UI with an iframe and native alerts.
    Admanager,
}

impl ErpType {
    /// Every supported type, for help texts and validation messages.
    pub const ALL: [ErpType; 2] = [ErpType::Au2office, ErpType::Admanager];

    /// The name used on the command line, in configs and in events.
    pub fn as_str(self) -> &'static str {
        match self {
            ErpType::Au2office => "au2office",
            ErpType::Admanager => "admanager",
        }
    }
}

impl fmt::Display for ErpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErpType {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        ErpType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown ERP type {s:?} (expected au2office or admanager)"))
    }
}
