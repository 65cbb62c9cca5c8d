//! What the ERP drivers share: the order line and credentials they take, the
//! outcome and error they return, amount and reference formatting, explicit
//! waits, and the one entry point [`book_line`] that picks the ERP's module
//! and logs in again whenever a step lands on the login page.

use std::fmt;
use std::time::{Duration, Instant};

use thirtyfour::error::{WebDriverErrorInfo, WebDriverErrorInner};
use thirtyfour::prelude::*;

use super::probe::ProbeSteps;
use super::{admanager, au2office, ErpType};

/// How often a wait looks at the page again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Logins one call may do after the first one, before it gives up.
pub const MAX_RELOGINS: u32 = 3;

/// Longest error text taken over from WebDriver into a reason.
const MAX_REASON_LEN: usize = 300;

/// One order line to put on a case, as OilMat sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// OilMat's id of the dispense; written into the line's reference.
    pub unique_id: String,
    /// The ERP's case (work order) id; leading zeros are significant.
    pub case_id: String,
    /// The ERP's item number; leading zeros are significant.
    pub item_no: String,
    /// Litres as OilMat sent them: `"4.5"`, `"5"`, `"4,5"`.
    pub amount: String,
}

/// The ERP login the driver uses; `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The ERP user name.
    pub username: String,
    /// The ERP password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// What a successful call did on the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Booked {
    /// The line was added now.
    Added,
    /// A line with the order's reference was already on the case; nothing added.
    AlreadyPresent,
}

/// Why a call did not book the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Retrying cannot help: `login failed`, `unknown case: ..`,
    /// `unknown item: ..`, `closed case: ..`, `bad input: ..`.
    #[error("{0}")]
    Final(String),
    /// Worth retrying later: `timeout: ..`, `webdriver: ..`,
    /// `erp server error: ..`.
    #[error("{0}")]
    Retryable(String),
}

/// Result of the ERP drivers.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// True when a retry cannot help.
    pub fn is_final(&self) -> bool {
        matches!(self, Error::Final(_))
    }

    /// The reason text, as it goes into events and status.
    pub fn reason(&self) -> &str {
        match self {
            Error::Final(r) | Error::Retryable(r) => r,
        }
    }

    /// Retryable `timeout: <step>`.
    pub fn timeout(step: &str) -> Self {
        Error::Retryable(format!("timeout: {step}"))
    }

    /// Final `bad input: <what>`.
    pub fn bad_input(what: impl fmt::Display) -> Self {
        Error::Final(format!("bad input: {what}"))
    }

    /// Retryable `webdriver: <what>`.
    pub fn webdriver(what: impl fmt::Display) -> Self {
        Error::Retryable(format!("webdriver: {what}"))
    }
}

impl From<WebDriverError> for Error {
    fn from(e: WebDriverError) -> Self {
        Error::webdriver(describe(&e))
    }
}

/// Maps a failed navigation: a page-load timeout becomes `timeout: <step>`.
pub fn navigation_error(step: &'static str) -> impl Fn(WebDriverError) -> Error {
    move |e| match e.as_inner() {
        WebDriverErrorInner::WebDriverTimeout(_) | WebDriverErrorInner::Timeout(_) => {
            Error::timeout(step)
        }
        _ => Error::from(e),
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

/// The line reference that marks an order on the case: `OilMat <unique_id>`.
pub fn reference(unique_id: &str) -> String {
    format!("OilMat {unique_id}")
}

/// Converts OilMat's amount (`"4.5"`, `"5"`, `"4,5"`) into the ERP's decimal
/// comma form (`"4,5"`, `"5"`), rejecting anything that is not a positive
/// plain decimal number as `bad input`.
pub fn erp_amount(amount: &str) -> Result<String> {
    let text = amount.trim();
    let bad = || Error::bad_input(format!("amount {amount:?} is not a positive number"));
    let (int, frac) = match text.split_once(['.', ',']) {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return Err(bad());
    }
    let int = int.trim_start_matches('0');
    let frac = frac.unwrap_or_default().trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    match (int, frac) {
        ("0", "") => Err(bad()),
        (int, "") => Ok(int.to_string()),
        (int, frac) => Ok(format!("{int},{frac}")),
    }
}

/// Where an ERP's login page is: its URL path (a query string may follow)
/// and an element only the login page has.
#[derive(Debug, Clone, Copy)]
pub struct LoginProbe {
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
    /// An element matching the selector has exactly this text (trimmed
    /// `textContent`).
    TextIs(By, String),
    /// This element is gone from the page (its document was replaced).
    Gone(WebElement),
    /// A native JavaScript alert is open (list it first: while an alert is
    /// open, element lookups fail).
    Alert,
}

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
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
    login: Option<&LoginProbe>,
    timeout: Duration,
    step: &str,
) -> Result<Seen> {
    let deadline = Instant::now() + timeout;
    let poll = async {
        loop {
            if let Some(i) = first_match(driver, conds).await? {
                return Ok(Seen::Target(i));
            }
            if let Some(probe) = login {
                if on_login_page(driver, probe).await? {
                    return Ok(Seen::LoginPage);
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::timeout(step));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    let grace = Duration::from_secs(2);
    tokio::time::timeout(timeout + grace, poll)
        .await
        .unwrap_or_else(|_| Err(Error::timeout(step)))
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
        Cond::TextIs(by, want) => {
            any_element(driver, by, |e| async move {
                Ok(e.prop("textContent").await?.unwrap_or_default().trim() == want)
            })
            .await
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
        Err(e) => Err(e.into()),
    }
}

/// Whether the error only says an element disappeared between two commands
/// (or an alert, which the next poll sees, blocked the lookup).
pub fn vanished(e: &WebDriverError) -> bool {
    matches!(
        e.as_inner(),
        WebDriverErrorInner::StaleElementReference(_)
            | WebDriverErrorInner::NoSuchElement(_)
            | WebDriverErrorInner::UnexpectedAlertOpen(_)
    )
}

/// Whether the browser shows the login page: by URL path, or by the login
/// marker in the current browsing context (a frame may hold the login page).
pub async fn on_login_page(driver: &WebDriver, probe: &LoginProbe) -> Result<bool> {
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

/// Everything one booking call needs, prepared once by [`book_line`].
#[derive(Debug)]
pub struct Job<'a> {
    /// The WebDriver session to drive.
    pub driver: &'a WebDriver,
    /// The ERP's base URL, without a trailing slash.
    pub base_url: &'a str,
    /// The order line.
    pub order: &'a OrderLine,
    /// The ERP login.
    pub creds: &'a Credentials,
    /// Deadline of each single step.
    pub step_timeout: Duration,
    /// The amount in the ERP's form (`4,5`).
    pub amount: String,
    /// The line reference, `OilMat <unique_id>`.
    pub reference: String,
}

impl Job<'_> {
    /// `base_url` joined with an absolute path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Navigates to `base_url` + `path`; a page-load timeout is
    /// `timeout: <step>`.
    pub async fn goto(&self, path: &str, step: &'static str) -> Result<()> {
        let url = self.url(path);
        self.driver.goto(url).await.map_err(navigation_error(step))
    }

    /// [`wait_for_any`] within the step timeout: `Some(index)` of the
    /// condition that matched, `None` for the login page.
    pub async fn wait(
        &self,
        conds: &[Cond],
        login: Option<&LoginProbe>,
        step: &str,
    ) -> Result<Option<usize>> {
        match wait_for_any(self.driver, conds, login, self.step_timeout, step).await? {
            Seen::Target(i) => Ok(Some(i)),
            Seen::LoginPage => Ok(None),
        }
    }
}

/// How one pass through an ERP's booking flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Finished.
    Done(Booked),
    /// A step landed on the login page: log in and go again.
    LoginPage,
}

/// How looking at a case (without changing it) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewed {
    /// The case showed as the UI contract says, with its lines.
    Shown,
    /// A step landed on the login page: log in and look again.
    LoginPage,
}

/// One ERP's UI: what a new ERP type implements (plus one arm in `drive`).
pub(crate) trait ErpUi {
    /// Opens the case and books the line, stopping at the login page.
    async fn book_once(&self, job: &Job<'_>) -> Result<Flow>;
    /// Logs in from the ERP's login page; a refused login is `login failed`.
    async fn log_in(&self, job: &Job<'_>) -> Result<()>;
    /// Opens the case and checks it shows with its lines as the UI contract
    /// says, adding nothing; each page it waits for is a step in `steps`.
    async fn view_case(&self, job: &Job<'_>, steps: &mut ProbeSteps) -> Result<Viewed>;
}

/// Puts `order` on its case in the ERP at `base_url` exactly once, through
/// the browser `session`, logging in with `creds` when the ERP asks.
#[tracing::instrument(skip_all, fields(erp = %erp, case_id = %order.case_id, unique_id = %order.unique_id))]
pub async fn book_line(
    erp: ErpType,
    session: &WebDriver,
    base_url: &str,
    order: &OrderLine,
    creds: &Credentials,
    step_timeout: Duration,
) -> Result<Booked> {
    check_order(order)?;
    let job = Job {
        driver: session,
        base_url: base_url.trim_end_matches('/'),
        order,
        creds,
        step_timeout,
        amount: erp_amount(&order.amount)?,
        reference: reference(&order.unique_id),
    };
    let started = Instant::now();
    let result = drive(erp, &job, BookLine).await;
    let ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(booked) => tracing::info!(?booked, ms, "line booked"),
        Err(e) => tracing::warn!(
            reason = e.reason(),
            is_final = e.is_final(),
            ms,
            "line not booked"
        ),
    }
    result
}

/// Logs in to the ERP at `base_url` with `creds` and books nothing: `Ok`
/// when the ERP accepts the login, `Final("login failed")` when it refuses.
#[tracing::instrument(skip_all, fields(erp = %erp))]
pub async fn log_in_only(
    erp: ErpType,
    session: &WebDriver,
    base_url: &str,
    creds: &Credentials,
    step_timeout: Duration,
) -> Result<()> {
    /// A login touches no order.
    static NO_ORDER: OrderLine = OrderLine {
        unique_id: String::new(),
        case_id: String::new(),
        item_no: String::new(),
        amount: String::new(),
    };
    let job = Job {
        driver: session,
        base_url: base_url.trim_end_matches('/'),
        order: &NO_ORDER,
        creds,
        step_timeout,
        amount: String::new(),
        reference: String::new(),
    };
    drive(erp, &job, LogIn).await
}

/// The synthetic check: logs in afresh (a live session would hide a changed
/// password) and opens case `case_id`, adding nothing; each step goes into
/// `steps`. An unknown case means the probe case is misconfigured.
#[tracing::instrument(skip_all, fields(erp = %erp, case_id = %case_id))]
pub async fn probe_case(
    erp: ErpType,
    session: &WebDriver,
    base_url: &str,
    creds: &Credentials,
    case_id: &str,
    step_timeout: Duration,
    steps: &mut ProbeSteps,
) -> Result<()> {
    if case_id.trim().is_empty() {
        return Err(Error::bad_input("empty probe case"));
    }
    let order = OrderLine {
        unique_id: String::new(),
        case_id: case_id.to_string(),
        item_no: String::new(),
        amount: String::new(),
    };
    let job = Job {
        driver: session,
        base_url: base_url.trim_end_matches('/'),
        order: &order,
        creds,
        step_timeout,
        amount: String::new(),
        reference: String::new(),
    };
    drive(erp, &job, ViewCase { steps })
        .await
        .map_err(|e| match e {
            Error::Final(reason) if reason.starts_with("unknown case") => Error::Final(format!(
                "probe case {case_id:?} does not exist on the ERP ({reason}): the probe case is misconfigured"
            )),
            e => e,
        })
}

/// Something done through an ERP's UI, whichever ERP it is.
trait Task {
    /// What it gives back.
    type Output;
    /// Does it through `ui`.
    async fn run(self, ui: &impl ErpUi, job: &Job<'_>) -> Result<Self::Output>;
}

/// Book the job's line, logging in as often as needed.
struct BookLine;

impl Task for BookLine {
    type Output = Booked;
    async fn run(self, ui: &impl ErpUi, job: &Job<'_>) -> Result<Booked> {
        book_with_relogin(ui, job).await
    }
}

/// Only log in.
struct LogIn;

impl Task for LogIn {
    type Output = ();
    async fn run(self, ui: &impl ErpUi, job: &Job<'_>) -> Result<()> {
        ui.log_in(job).await
    }
}

/// Log in afresh and look at the job's case, recording each step.
struct ViewCase<'s> {
    steps: &'s mut ProbeSteps,
}

impl Task for ViewCase<'_> {
    type Output = ();
    async fn run(self, ui: &impl ErpUi, job: &Job<'_>) -> Result<()> {
        let steps = self.steps;
        let login = async {
            forget_session(job.driver).await?;
            ui.log_in(job).await
        };
        steps.run("login", login).await?;
        for _ in 0..=MAX_RELOGINS {
            if ui.view_case(job, steps).await? == Viewed::Shown {
                return Ok(());
            }
            steps.note_last("ended on the login page: session expired");
            steps.run("login", ui.log_in(job)).await?;
        }
        Err(Error::Retryable(format!(
            "session expired: still logged out after {MAX_RELOGINS} re-logins"
        )))
    }
}

/// Deletes the cookies of the page the browser is on (the browser only
/// visits the ERP), so that the next login really types the credentials.
async fn forget_session(driver: &WebDriver) -> Result<()> {
    driver.enter_default_frame().await?;
    let here = driver.current_url().await?;
    if matches!(here.scheme(), "http" | "https") {
        driver.delete_all_cookies().await?;
    }
    Ok(())
}

/// The one place that knows which module drives which ERP type.
async fn drive<T: Task>(erp: ErpType, job: &Job<'_>, task: T) -> Result<T::Output> {
    match erp {
        ErpType::Au2office => task.run(&au2office::Au2office, job).await,
        ErpType::Admanager => task.run(&admanager::Admanager, job).await,
    }
}

fn check_order(order: &OrderLine) -> Result<()> {
    for (name, value) in [
        ("unique_id", &order.unique_id),
        ("case_id", &order.case_id),
        ("item_no", &order.item_no),
    ] {
        if value.trim().is_empty() {
            return Err(Error::bad_input(format!("empty {name}")));
        }
    }
    Ok(())
}

/// Runs the ERP's flow, logging in whenever it lands on the login page.
async fn book_with_relogin(ui: &impl ErpUi, job: &Job<'_>) -> Result<Booked> {
    let mut logins = 0;
    loop {
        match ui.book_once(job).await? {
            Flow::Done(booked) => return Ok(booked),
            Flow::LoginPage if logins > MAX_RELOGINS => {
                return Err(Error::Retryable(format!(
                    "session expired: still logged out after {MAX_RELOGINS} re-logins"
                )));
            }
            Flow::LoginPage => {
                logins += 1;
                tracing::info!(logins, "on the login page, logging in");
                ui.log_in(job).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time check: the workers may run these on any thread.
    #[allow(dead_code)]
    fn futures_are_send(driver: &WebDriver, order: &OrderLine, creds: &Credentials) {
        fn send<T: Send>(_: T) {}
        let step = Duration::ZERO;
        send(book_line(
            ErpType::Admanager,
            driver,
            "",
            order,
            creds,
            step,
        ));
        send(log_in_only(ErpType::Au2office, driver, "", creds, step));
        let mut steps = ProbeSteps::default();
        send(probe_case(
            ErpType::Admanager,
            driver,
            "",
            creds,
            "1",
            step,
            &mut steps,
        ));
    }

    #[test]
    fn amounts_become_decimal_comma() {
        for (input, want) in [
            ("4.5", "4,5"),
            ("4,5", "4,5"),
            ("5", "5"),
            (" 5 ", "5"),
            ("5.0", "5"),
            ("4.50", "4,5"),
            ("0.5", "0,5"),
            ("007", "7"),
            ("10", "10"),
            ("100.25", "100,25"),
            ("1234.5", "1234,5"),
        ] {
            assert_eq!(erp_amount(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn bad_amounts_are_final_bad_input() {
        for input in [
            "", " ", "0", "0.0", "0,00", "-4.5", "-1", "+5", "4.5.1", "4,5.1", "1,000.5", "abc",
            "4.5l", "1e3", ".5", "5.", ",", "NaN", "inf", "4 5", "٣",
        ] {
            let err = erp_amount(input).expect_err(input);
            assert!(err.is_final(), "{input}");
            assert!(err.reason().starts_with("bad input: "), "{input}: {err}");
        }
    }

    #[test]
    fn reference_marks_the_order() {
        assert_eq!(reference("abc-123"), "OilMat abc-123");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let creds = Credentials {
            username: "kim".into(),
            password: "hemmelig".into(),
        };
        let shown = format!("{creds:?}");
        assert!(shown.contains("kim") && shown.contains("***"));
        assert!(!shown.contains("hemmelig"));
    }

    #[test]
    fn errors_classify_and_display_their_reason() {
        assert!(Error::Final("login failed".into()).is_final());
        assert!(!Error::timeout("confirm save").is_final());
        assert_eq!(
            Error::timeout("confirm save").to_string(),
            "timeout: confirm save"
        );
        assert_eq!(Error::bad_input("x").to_string(), "bad input: x");
    }

    #[test]
    fn css_strings_and_url_components_are_escaped() {
        assert_eq!(css_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(url_component("007"), "007");
        assert_eq!(url_component("a b/æ"), "a%20b%2F%C3%A6");
    }

    #[test]
    fn empty_order_fields_are_bad_input() {
        let order = OrderLine {
            unique_id: "u1".into(),
            case_id: " ".into(),
            item_no: "1".into(),
            amount: "1".into(),
        };
        assert_eq!(
            check_order(&order),
            Err(Error::Final("bad input: empty case_id".into()))
        );
    }

    #[test]
    fn long_reasons_are_truncated() {
        let long = "x".repeat(400);
        assert_eq!(truncate(&long, 10), format!("{}...", "x".repeat(10)));
        assert_eq!(truncate("short", 10), "short");
    }
}
