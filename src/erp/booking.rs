//! The operations on an ERP, whichever type it is: book a line exactly once
//! (logging in again whenever a step lands on the login page), log in, and
//! look at a case for the synthetic check. [`with_ui`] is the one place that
//! maps an ERP type to its driver.

use std::fmt;
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use super::admanager::Admanager;
use super::au2office::Au2office;
use super::error::{Failure, Result};
use super::probe::ProbeSteps;
use super::ui::{BeforeSave, BookingPass, CaseView, ErpPage, ErpUi, LineToBook, NoHook, SaveGate};
use super::ErpType;
use crate::order::{reference, Booked, FailureKind, Litres};

/// Logins one call may do after the first one, before it gives up.
pub const MAX_RELOGINS: u32 = 3;

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

/// Puts `order` on its case in the ERP at `base_url` exactly once, through
/// the browser `session`, logging in with `creds` when the ERP asks.
pub async fn book_line(
    erp: ErpType,
    session: &WebDriver,
    base_url: &str,
    order: &OrderLine,
    creds: &Credentials,
    step_timeout: Duration,
) -> Result<Booked> {
    let target = Target {
        erp,
        session,
        base_url,
        step_timeout,
    };
    book_line_with(target, order, creds, true, &NoHook).await
}

/// Where a booking goes: the ERP type, the browser and the ERP's base URL,
/// and each step's deadline.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Which ERP type.
    pub erp: ErpType,
    /// The browser session.
    pub session: &'a WebDriver,
    /// The ERP's base URL.
    pub base_url: &'a str,
    /// Deadline of each single step.
    pub step_timeout: Duration,
}

/// [`book_line`] for the worker: adds the line only if `may_add` (else,
/// when the line is not on the case, the retryable
/// [`Failure::unsettled`]), and calls `hook` right before each save click.
/// After one save, the same call adds no second line.
#[tracing::instrument(skip_all, fields(erp = %target.erp, case_id = %order.case_id, unique_id = %order.unique_id, may_add))]
pub async fn book_line_with(
    target: Target<'_>,
    order: &OrderLine,
    creds: &Credentials,
    may_add: bool,
    hook: &impl BeforeSave,
) -> Result<Booked> {
    let line = line_to_book(order)?;
    let page = erp_page(target.session, target.base_url, target.step_timeout);
    let started = Instant::now();
    let gate = SaveGate::new(may_add, hook);
    let op = BookLine {
        line: &line,
        creds,
        gate: &gate,
    };
    let result = with_ui(target.erp, op, &page).await;
    let ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(booked) => tracing::info!(?booked, ms, "line booked"),
        Err(e) => tracing::warn!(
            reason = e.reason(),
            kind = %e.kind,
            ms,
            "line not booked"
        ),
    }
    result
}

/// Logs in to the ERP at `base_url` with `creds` and books nothing: `Ok`
/// when the ERP accepts the login, `login failed` when it refuses.
#[tracing::instrument(skip_all, fields(erp = %erp))]
pub async fn log_in(
    erp: ErpType,
    session: &WebDriver,
    base_url: &str,
    creds: &Credentials,
    step_timeout: Duration,
) -> Result<()> {
    let page = erp_page(session, base_url, step_timeout);
    with_ui(erp, LogIn { creds }, &page).await
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
        return Err(Failure::bad_input("empty probe case"));
    }
    let page = erp_page(session, base_url, step_timeout);
    let look = ViewCase {
        case_id,
        creds,
        steps,
    };
    with_ui(erp, look, &page).await.map_err(|e| match e.kind {
        FailureKind::UnknownCase => Failure::new(
            FailureKind::UnknownCase,
            format!(
                "probe case {case_id:?} does not exist on the ERP ({}): the probe case is misconfigured",
                e.reason
            ),
        ),
        _ => e,
    })
}

fn erp_page<'a>(session: &'a WebDriver, base_url: &'a str, step_timeout: Duration) -> ErpPage<'a> {
    ErpPage {
        driver: session,
        base_url: base_url.trim_end_matches('/'),
        step_timeout,
    }
}

/// The order in the ERP's own form; empty fields and bad amounts are
/// `bad input`.
fn line_to_book(order: &OrderLine) -> Result<LineToBook<'_>> {
    for (name, value) in [
        ("unique_id", &order.unique_id),
        ("case_id", &order.case_id),
        ("item_no", &order.item_no),
    ] {
        if value.trim().is_empty() {
            return Err(Failure::bad_input(format!("empty {name}")));
        }
    }
    let amount = Litres::parse(&order.amount).map_err(Failure::bad_input)?;
    Ok(LineToBook {
        case_id: &order.case_id,
        item_no: &order.item_no,
        amount: amount.erp_format(),
        reference: reference(&order.unique_id),
    })
}

/// Something done through an ERP's UI, whichever ERP it is.
trait Operation {
    /// What it gives back.
    type Output;
    /// Does it through `ui`.
    async fn run(self, ui: &impl ErpUi, page: &ErpPage<'_>) -> Result<Self::Output>;
}

/// The one place that knows which driver drives which ERP type.
async fn with_ui<O: Operation>(erp: ErpType, op: O, page: &ErpPage<'_>) -> Result<O::Output> {
    match erp {
        ErpType::Au2office => op.run(&Au2office, page).await,
        ErpType::Admanager => op.run(&Admanager, page).await,
    }
}

/// Book a line, logging in as often as needed.
struct BookLine<'a, H> {
    line: &'a LineToBook<'a>,
    creds: &'a Credentials,
    gate: &'a SaveGate<'a, H>,
}

impl<H: BeforeSave> Operation for BookLine<'_, H> {
    type Output = Booked;
    async fn run(self, ui: &impl ErpUi, page: &ErpPage<'_>) -> Result<Booked> {
        let mut logins = 0;
        loop {
            match ui.book_once(page, self.line, self.gate).await? {
                BookingPass::Done(booked) => return Ok(booked),
                BookingPass::LoginPage if logins > MAX_RELOGINS => return Err(still_logged_out()),
                BookingPass::LoginPage => {
                    logins += 1;
                    tracing::info!(logins, "on the login page, logging in");
                    ui.log_in(page, self.creds).await?;
                }
            }
        }
    }
}

/// Only log in.
struct LogIn<'a> {
    creds: &'a Credentials,
}

impl Operation for LogIn<'_> {
    type Output = ();
    async fn run(self, ui: &impl ErpUi, page: &ErpPage<'_>) -> Result<()> {
        ui.log_in(page, self.creds).await
    }
}

/// Log in afresh and look at a case, recording each step.
struct ViewCase<'a, 's> {
    case_id: &'a str,
    creds: &'a Credentials,
    steps: &'s mut ProbeSteps,
}

impl Operation for ViewCase<'_, '_> {
    type Output = ();
    async fn run(self, ui: &impl ErpUi, page: &ErpPage<'_>) -> Result<()> {
        let (steps, creds) = (self.steps, self.creds);
        let login = async {
            forget_session(page.driver).await?;
            ui.log_in(page, creds).await
        };
        steps.run("login", login).await?;
        for _ in 0..=MAX_RELOGINS {
            if ui.view_case(page, self.case_id, steps).await? == CaseView::Shown {
                return Ok(());
            }
            steps.note_last("ended on the login page: session expired");
            steps.run("login", ui.log_in(page, creds)).await?;
        }
        Err(still_logged_out())
    }
}

fn still_logged_out() -> Failure {
    Failure::new(
        FailureKind::SessionExpired,
        format!("session expired: still logged out after {MAX_RELOGINS} re-logins"),
    )
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
        send(log_in(ErpType::Au2office, driver, "", creds, step));
        let target = Target {
            erp: ErpType::Au2office,
            session: driver,
            base_url: "",
            step_timeout: step,
        };
        send(book_line_with(target, order, creds, false, &NoHook));
        let mut steps = ProbeSteps::default();
        let probe = probe_case(ErpType::Admanager, driver, "", creds, "1", step, &mut steps);
        send(probe);
    }

    fn order(case_id: &str, amount: &str) -> OrderLine {
        OrderLine {
            unique_id: "u1".into(),
            case_id: case_id.into(),
            item_no: "1".into(),
            amount: amount.into(),
        }
    }

    #[test]
    fn the_line_takes_the_erp_forms() {
        let order = order("0558", "4.50");
        let line = line_to_book(&order).unwrap();
        assert_eq!(line.amount, "4,5");
        assert_eq!(line.reference, "OilMat u1");
        assert_eq!(line.case_id, "0558");
    }

    #[test]
    fn bad_amounts_and_empty_fields_are_final_bad_input() {
        for amount in [
            "", "0", "-4.5", "+5", "4.5.1", "1,000.5", "abc", "1e3", ".5", "٣",
        ] {
            let err = line_to_book(&order("1", amount)).expect_err(amount);
            assert!(err.is_final(), "{amount}");
            assert!(err.reason().starts_with("bad input: "), "{amount}: {err}");
        }
        let err = line_to_book(&order(" ", "1")).unwrap_err();
        assert_eq!(err, Failure::bad_input("empty case_id"));
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
}
