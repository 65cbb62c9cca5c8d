//! ERP drivers: take an order line and a WebDriver session, put the line on
//! the case through the ERP's web UI exactly once, and say what happened.
//! Knows WebDriver and the UI contract (shared/erp-ui.md); nothing of the
//! event log, HTTP or actors.

pub mod admanager;
pub mod au2office;
pub mod browser;
pub mod driver;
pub mod probe;
pub mod verify;

pub use browser::{BrowserConfig, BrowserSession, WebDriverEndpoint};
pub use driver::{book_line, Booked, Credentials, Error, OrderLine};

use std::fmt;
use std::str::FromStr;

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
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErpType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown ERP type {s:?} (expected au2office or admanager)"))
    }
}
