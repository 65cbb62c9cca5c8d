//! Finding and waiting: explicit waits with a deadline that poll the page,
//! see the login page wherever a step lands on it, and take a stale or
//! vanished element as "look again".

use std::time::{Duration, Instant};

use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::prelude::*;

use super::error::{navigation_error, Failure, Result};
use crate::order::FailureKind;

/// How often a wait looks at the page again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Where an ERP's login page is: its URL path (a query string may follow)
/// and an element only the login page has.
#[derive(Debug, Clone, Copy)]
pub struct LoginLandmarks {
    /// The login page's path, compared case-insensitively.
    pub path: &'static str,
    /// A CSS selector present only on the login page (also inside frames).
    pub marker: &'static str,
}

/// Something a wait looks for on the page.
#[derive(Debug, Clone)]
pub enum Cond {
    /// An element matching the selector exists.
    Present(By),
    /// An element matching the selector is displayed.
    Shown(By),
    /// An element matching the selector shows non-empty text.
    HasText(By),
    /// An element matching this CSS selector has exactly this text
    /// (trimmed `textContent`), read for all matches by one script, so a
    /// list that re-renders itself cannot hide it.
    TextIs(&'static str, String),
    /// This element is gone from the page (its document was replaced).
    Gone(WebElement),
    /// A native JavaScript alert is open (list it first: while an alert is
    /// open, element lookups fail).
    Alert,
}

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// The condition with this index in the list matched.
    Target(usize),
    /// The browser is on the login page: the session has expired.
    LoginPage,
}

/// CSS selector shorthand.
pub fn css(selector: impl Into<String>) -> By {
    By::Css(selector.into())
}

/// Quotes `value` as a CSS string literal, for attribute selectors.
pub fn css_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\a "),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Percent-encodes `value` for use as one URL path segment or query value.
pub fn url_component(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls the page every [`POLL_INTERVAL`] until one of `conds` holds
/// (returns its index) or, when `login` is given, the login page shows.
/// At `timeout` it fails with `timeout: <step>`; a hung browser cannot hold
/// it much longer than that.
pub async fn wait_for_any(
    driver: &WebDriver,
    conds: &[Cond],
    login: Option<&LoginLandmarks>,
    timeout: Duration,
    step: &str,
) -> Result<WaitEnd> {
    let deadline = Instant::now() + timeout;
    let poll = async {
        loop {
            if let Some(i) = first_match(driver, conds).await? {
                return Ok(WaitEnd::Target(i));
            }
            if let Some(probe) = login {
                if on_login_page(driver, probe).await? {
                    return Ok(WaitEnd::LoginPage);
                }
            }
            if Instant::now() >= deadline {
                return Err(Failure::timeout(step));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    let grace = Duration::from_secs(2);
    // A page load that runs into its timeout while we poll is this step's
    // timeout, whichever command noticed it.
    let step_timeout = |f: Failure| match f.kind {
        FailureKind::Timeout => Failure::timeout(step),
        _ => f,
    };
    tokio::time::timeout(timeout + grace, poll)
        .await
        .unwrap_or_else(|_| Err(Failure::timeout(step)))
        .map_err(step_timeout)
}

/// Index of the first condition that holds now.
async fn first_match(driver: &WebDriver, conds: &[Cond]) -> Result<Option<usize>> {
    for (i, cond) in conds.iter().enumerate() {
        if holds(driver, cond).await? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Whether `cond` holds now. Elements that vanish while being read count as
/// "not yet".
pub async fn holds(driver: &WebDriver, cond: &Cond) -> Result<bool> {
    let result = match cond {
        Cond::Present(by) => driver.find_all(by.clone()).await.map(|v| !v.is_empty()),
        Cond::Shown(by) => any_element(driver, by, |e| async move { e.is_displayed().await }).await,
        Cond::HasText(by) => {
            any_element(driver, by, |e| async move {
                Ok(!e.text().await?.trim().is_empty())
            })
            .await
        }
        Cond::TextIs(selector, want) => {
            return Ok(super::fields::read_texts(driver, selector)
                .await?
                .is_some_and(|texts| texts.iter().any(|t| t == want)));
        }
        Cond::Gone(element) => match element.tag_name().await {
            Ok(_) => Ok(false),
            Err(e) => match e.as_inner() {
                WebDriverErrorInner::StaleElementReference(_)
                | WebDriverErrorInner::NoSuchElement(_) => Ok(true),
                _ => Err(e),
            },
        },
        Cond::Alert => match driver.get_alert_text().await {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_inner(), WebDriverErrorInner::NoSuchAlert(_)) => Ok(false),
            Err(e) => Err(e),
        },
    };
    tolerate_vanished(result)
}

async fn any_element<F, Fut>(driver: &WebDriver, by: &By, test: F) -> WebDriverResult<bool>
where
    F: Fn(WebElement) -> Fut,
    Fut: std::future::Future<Output = WebDriverResult<bool>>,
{
    for element in driver.find_all(by.clone()).await? {
        if test(element).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Turns "the element went away while we looked" into `false`.
fn tolerate_vanished(result: WebDriverResult<bool>) -> Result<bool> {
    match result {
        Ok(found) => Ok(found),
        Err(e) if vanished(&e) => Ok(false),
        Err(e) => Err(navigation_error("page load")(e)),
    }
}

/// Whether the error only says an element disappeared between two commands
/// (or an alert, which the next poll sees, blocked the lookup: chromedriver
/// may answer a lookup that an alert opening interrupts with a body the
/// client cannot parse, seen as a JSON error).
pub fn vanished(e: &WebDriverError) -> bool {
    matches!(
        e.as_inner(),
        WebDriverErrorInner::StaleElementReference(_)
            | WebDriverErrorInner::NoSuchElement(_)
            | WebDriverErrorInner::UnexpectedAlertOpen(_)
            | WebDriverErrorInner::Json(_)
    )
}

/// Whether the browser shows the login page: by URL path, or by the login
/// marker in the current browsing context (a frame may hold the login page).
pub async fn on_login_page(driver: &WebDriver, probe: &LoginLandmarks) -> Result<bool> {
    let by_path = driver
        .current_url()
        .await
        .map(|url| url.path().eq_ignore_ascii_case(probe.path));
    if tolerate_vanished(by_path)? {
        return Ok(true);
    }
    holds(driver, &Cond::Present(css(probe.marker))).await
}

/// The trimmed visible text of the first element matching `by` that shows
/// any, or `fallback`.
pub async fn text_of(driver: &WebDriver, by: By, fallback: &str) -> String {
    let Ok(elements) = driver.find_all(by).await else {
        return fallback.to_string();
    };
    for element in elements {
        if let Ok(text) = element.text().await {
            let text = text.trim();
            if !text.is_empty() {
                return text.to_string();
            }
        }
    }
    fallback.to_string()
}

/// Replaces the value of the input matching `by` with `text`.
pub async fn fill(driver: &WebDriver, by: By, text: impl Into<TypingData>) -> Result<()> {
    let input = driver.find(by).await?;
    input.clear().await?;
    input.send_keys(text).await?;
    Ok(())
}

/// Clicks the element matching `by`. A click that starts a navigation
/// waits for it; when that runs into the page-load timeout it is
/// `timeout: <step>`.
pub async fn click(driver: &WebDriver, by: By, step: &'static str) -> Result<()> {
    let element = driver.find(by).await?;
    element.click().await.map_err(navigation_error(step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_strings_and_url_components_are_escaped() {
        assert_eq!(css_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(url_component("007"), "007");
        assert_eq!(url_component("a b/æ"), "a%20b%2F%C3%A6");
    }
}
