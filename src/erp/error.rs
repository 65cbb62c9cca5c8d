//! The drivers' error: an [`order::Failure`](crate::order::Failure), made
//! from WebDriver errors with a short, readable reason.

use thirtyfour::error::{WebDriverError, WebDriverErrorInfo, WebDriverErrorInner};

pub use crate::order::Failure;

/// Result of the ERP drivers.
pub type Result<T> = std::result::Result<T, Failure>;

/// Longest error text taken over from WebDriver into a reason.
const MAX_REASON_LEN: usize = 300;

impl From<WebDriverError> for Failure {
    fn from(e: WebDriverError) -> Self {
        Failure::webdriver(describe(&e))
    }
}

/// Maps a failed navigation: a page-load timeout becomes `timeout: <step>`.
pub fn navigation_error(step: &'static str) -> impl Fn(WebDriverError) -> Failure {
    move |e| match e.as_inner() {
        WebDriverErrorInner::WebDriverTimeout(_) | WebDriverErrorInner::Timeout(_) => {
            Failure::timeout(step)
        }
        _ => Failure::from(e),
    }
}

/// A short one-line description of a WebDriver error, for reasons and logs.
pub fn describe(e: &WebDriverError) -> String {
    let full = e.to_string();
    let head = full
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches([':', ' ']);
    let text = match error_info(e) {
        Some(info) => {
            let msg = info.value.message.lines().next().unwrap_or_default();
            format!("{head}: {msg}")
        }
        None => full.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    truncate(&text, MAX_REASON_LEN)
}

fn error_info(e: &WebDriverError) -> Option<&WebDriverErrorInfo> {
    use WebDriverErrorInner as I;
    match e.as_inner() {
        I::NoSuchElement(i)
        | I::StaleElementReference(i)
        | I::InvalidSessionId(i)
        | I::UnknownError(i)
        | I::WebDriverTimeout(i)
        | I::UnexpectedAlertOpen(i)
        | I::SessionNotCreated(i)
        | I::JavascriptError(i)
        | I::ElementNotInteractable(i)
        | I::ElementClickIntercepted(i)
        | I::InvalidElementState(i)
        | I::NoSuchFrame(i)
        | I::NoSuchWindow(i)
        | I::NoSuchAlert(i)
        | I::InvalidArgument(i)
        | I::UnknownCommand(i)
        | I::NotInSpec(i) => Some(i),
        _ => None,
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_truncated() {
        let long = "x".repeat(400);
        assert_eq!(truncate(&long, 10), format!("{}...", "x".repeat(10)));
        assert_eq!(truncate("short", 10), "short");
    }
}
