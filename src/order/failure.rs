//! Why an order was not booked: a typed kind that says whose fault it was,
//! and the reason as support reads it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whom a failure is charged to (design.md rule 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blame {
    /// The order itself cannot be booked: it fails at once.
    Order,
    /// The ERP or the way to it is at fault, not the order.
    Integration,
    /// This order's attempt went wrong; another attempt may work.
    Attempt,
}

/// The kind of a failure, carried in `failed` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A field the ERP cannot take (empty, malformed, cut or changed).
    BadInput,
    /// The case does not exist on the ERP.
    UnknownCase,
    /// The item does not exist on the ERP.
    UnknownItem,
    /// The case is closed or invoiced: no lines can be added.
    ClosedCase,
    /// The ERP refused the login: an integration fault (the orders using
    /// that login wait), not the order's.
    LoginFailed,
    /// A step's landmarks did not appear by its deadline.
    Timeout,
    /// The browser or the WebDriver endpoint failed.
    Webdriver,
    /// The ERP answered a save or page with a server error.
    ErpServerError,
    /// The session stayed expired through every re-login.
    SessionExpired,
    /// Taken off a queue by an operator.
    Cleared,
    /// An earlier save's outcome is still unknown and its line is not on
    /// the case yet: nothing was added; look again later (design.md rule 6).
    Unsettled,
    /// The ERP stayed unavailable past the maximum age of an order.
    ErpUnavailable,
    /// The process died during too many of the order's attempts.
    CrashLoop,
    /// Anything else (and old reasons that name no known kind).
    Other,
}

impl FailureKind {
    /// Every kind, for metric labels.
    pub const ALL: [FailureKind; 14] = [
        FailureKind::BadInput,
        FailureKind::UnknownCase,
        FailureKind::UnknownItem,
        FailureKind::ClosedCase,
        FailureKind::LoginFailed,
        FailureKind::Timeout,
        FailureKind::Webdriver,
        FailureKind::ErpServerError,
        FailureKind::SessionExpired,
        FailureKind::Cleared,
        FailureKind::Unsettled,
        FailureKind::ErpUnavailable,
        FailureKind::CrashLoop,
        FailureKind::Other,
    ];

    /// The kind's name, as in events and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::BadInput => "bad_input",
            FailureKind::UnknownCase => "unknown_case",
            FailureKind::UnknownItem => "unknown_item",
            FailureKind::ClosedCase => "closed_case",
            FailureKind::LoginFailed => "login_failed",
            FailureKind::Timeout => "timeout",
            FailureKind::Webdriver => "webdriver",
            FailureKind::ErpServerError => "erp_server_error",
            FailureKind::SessionExpired => "session_expired",
            FailureKind::Cleared => "cleared",
            FailureKind::Unsettled => "unsettled",
            FailureKind::ErpUnavailable => "erp_unavailable",
            FailureKind::CrashLoop => "crash_loop",
            FailureKind::Other => "other",
        }
    }

    /// True when retrying the same order cannot help.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            FailureKind::BadInput
                | FailureKind::UnknownCase
                | FailureKind::UnknownItem
                | FailureKind::ClosedCase
                | FailureKind::Cleared
                | FailureKind::ErpUnavailable
                | FailureKind::CrashLoop
        )
    }

    /// Whom the failure is charged to.
    pub fn blame(self) -> Blame {
        match self {
            FailureKind::BadInput
            | FailureKind::UnknownCase
            | FailureKind::UnknownItem
            | FailureKind::ClosedCase
            | FailureKind::Cleared
            | FailureKind::ErpUnavailable => Blame::Order,
            FailureKind::LoginFailed
            | FailureKind::Webdriver
            | FailureKind::Timeout
            | FailureKind::ErpServerError
            | FailureKind::SessionExpired => Blame::Integration,
            FailureKind::Unsettled | FailureKind::CrashLoop | FailureKind::Other => Blame::Attempt,
        }
    }

    /// Whom a failure is charged to, given whether the attempt had clicked
    /// save (design.md rule 6): a page that did not show its landmarks, a
    /// server error or a lost session after the save click, on a page that
    /// otherwise worked, is this order's; a refused login or a dead browser
    /// stays the integration's.
    pub fn blame_after(self, saved: bool) -> Blame {
        match (self, self.blame()) {
            (FailureKind::LoginFailed | FailureKind::Webdriver, blame) => blame,
            (_, Blame::Integration) if saved => Blame::Attempt,
            (_, blame) => blame,
        }
    }

    /// The kind of a reason written before kinds were typed (old logs): the
    /// reason's leading words name it.
    pub fn from_reason(reason: &str) -> FailureKind {
        let reason = reason.trim_start();
        let prefixed = [
            ("login failed", FailureKind::LoginFailed),
            ("unknown item", FailureKind::UnknownItem),
            ("unknown case", FailureKind::UnknownCase),
            ("closed case", FailureKind::ClosedCase),
            ("bad input", FailureKind::BadInput),
            ("timeout", FailureKind::Timeout),
            ("webdriver", FailureKind::Webdriver),
            ("erp server error", FailureKind::ErpServerError),
            ("session expired", FailureKind::SessionExpired),
            ("cleared", FailureKind::Cleared),
            ("erp unavailable", FailureKind::ErpUnavailable),
            ("crash loop", FailureKind::CrashLoop),
        ];
        prefixed
            .iter()
            .find(|(prefix, _)| reason.starts_with(prefix))
            .map_or(FailureKind::Other, |(_, kind)| *kind)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed booking: its kind and the reason as support should read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The reason, starting with the kind's words (`unknown item: 99`).
    pub reason: String,
}

impl Failure {
    /// A failure of `kind` with this reason.
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Failure {
        Failure {
            kind,
            reason: reason.into(),
        }
    }

    /// `bad input: <what>`.
    pub fn bad_input(what: impl fmt::Display) -> Failure {
        Failure::new(FailureKind::BadInput, format!("bad input: {what}"))
    }

    /// `timeout: <step>`.
    pub fn timeout(step: &str) -> Failure {
        Failure::new(FailureKind::Timeout, format!("timeout: {step}"))
    }

    /// `webdriver: <what>`.
    pub fn webdriver(what: impl fmt::Display) -> Failure {
        Failure::new(FailureKind::Webdriver, format!("webdriver: {what}"))
    }

    /// `erp server error: <what>`.
    pub fn erp_server_error(what: impl fmt::Display) -> Failure {
        Failure::new(
            FailureKind::ErpServerError,
            format!("erp server error: {what}"),
        )
    }

    /// `timeout: waiting for an unconfirmed save to settle`: the line of an
    /// earlier, unconfirmed save is not on the case (yet), and nothing may
    /// be added until its settle time has passed.
    pub fn unsettled() -> Failure {
        Failure::new(
            FailureKind::Unsettled,
            "timeout: waiting for an unconfirmed save to settle",
        )
    }

    /// `login failed`.
    pub fn login_failed() -> Failure {
        Failure::new(FailureKind::LoginFailed, "login failed")
    }

    /// True when retrying the same order cannot help.
    pub fn is_final(&self) -> bool {
        self.kind.is_final()
    }

    /// The reason text, as it goes into events and status.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_reasons_read_as_their_kind() {
        for kind in FailureKind::ALL {
            if kind == FailureKind::Unsettled {
                // Its reason starts with "timeout": old readers see a timeout.
                continue;
            }
            let reason = format!("{}: x", kind.as_str().replace('_', " "));
            assert_eq!(FailureKind::from_reason(&reason), kind, "{reason}");
        }
        assert_eq!(
            FailureKind::from_reason("worker panicked"),
            FailureKind::Other
        );
    }

    #[test]
    fn kinds_say_final_and_blame() {
        assert!(!Failure::login_failed().is_final());
        assert_eq!(
            FailureKind::LoginFailed.blame_after(true),
            Blame::Integration
        );
        assert_eq!(FailureKind::Timeout.blame_after(false), Blame::Integration);
        assert_eq!(FailureKind::Timeout.blame_after(true), Blame::Attempt);
        assert_eq!(
            FailureKind::ErpServerError.blame_after(true),
            Blame::Attempt
        );
        assert!(!Failure::timeout("confirm save").is_final());
        assert_eq!(FailureKind::UnknownItem.blame(), Blame::Order);
        assert_eq!(FailureKind::Webdriver.blame(), Blame::Integration);
        assert_eq!(Failure::bad_input("x").reason(), "bad input: x");
    }

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in FailureKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
