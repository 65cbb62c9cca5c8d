//! The au2office driver: its single-page style UI as described in
//! shared/erp-ui.md (login form, case view, order lines table, add-line
//! dialog with an asynchronous item lookup).

mod contract;

use thirtyfour::prelude::*;
use tracing::Instrument;

use self::contract::*;
use super::booking::Credentials;
use super::error::{Failure, Result};
use super::fields::{check_typed, LineInputs, LinesSeen, Look};
use super::login::log_in_with;
use super::probe::ProbeSteps;
use super::ui::{BeforeSave, BookingPass, CaseView, ErpPage, ErpUi, LineToBook, SaveGate};
use super::waiting::{click, css, css_string, fill, text_of, Cond};
use crate::order::{Booked, FailureKind};

/// The add-line dialog's inputs, read back before a save.
const INPUTS: LineInputs = LineInputs {
    item: ITEM_INPUT,
    amount: QTY_INPUT,
    reference: REFERENCE_INPUT,
};

/// The au2office UI.
pub(crate) struct Au2office;

impl ErpUi for Au2office {
    #[tracing::instrument(skip_all, name = "login")]
    async fn log_in(&self, page: &ErpPage<'_>, creds: &Credentials) -> Result<()> {
        log_in_with(page, &LOGIN_FORM, creds).await
    }

    async fn book_once<H: BeforeSave>(
        &self,
        page: &ErpPage<'_>,
        line: &LineToBook<'_>,
        gate: &SaveGate<'_, H>,
    ) -> Result<BookingPass> {
        page.goto(&case_path(line.case_id), "open case").await?;
        let Some(closed) = open_case(page, line.case_id).await? else {
            return Ok(BookingPass::LoginPage);
        };
        let check = tracing::info_span!("check reference");
        let seen = match page
            .look_for(LINE_REFERENCES, &line.reference)
            .instrument(check.clone())
            .await?
        {
            Look::Present => return Ok(already_present()),
            Look::NotSeen(seen) => seen,
        };
        if closed || gate.check_may_add().is_err() {
            // Nothing to type: decide "absent" now.
            let seen = Some(seen.clone());
            let present = page.has_reference_after(LINE_REFERENCES, &line.reference, seen);
            if present.instrument(check).await? {
                return Ok(already_present());
            }
            if closed {
                let case_id = line.case_id;
                let reason = format!("closed case: case {case_id} is closed");
                return Err(Failure::new(FailureKind::ClosedCase, reason));
            }
            gate.check_may_add()?;
        }
        add_line(page, line, gate, seen).await
    }

    async fn view_case(
        &self,
        page: &ErpPage<'_>,
        case_id: &str,
        steps: &mut ProbeSteps,
    ) -> Result<CaseView> {
        let opened = async {
            page.goto(&case_path(case_id), "open case").await?;
            open_case(page, case_id).await
        };
        match steps.run("open case", opened).await? {
            Some(_) => Ok(CaseView::Shown),
            None => Ok(CaseView::LoginPage),
        }
    }
}

/// Waits for the case view with its lines table. `Some(closed)` once it is
/// there, `None` on the login page; an unknown case is final.
#[tracing::instrument(skip_all, name = "open case")]
async fn open_case(page: &ErpPage<'_>, case_id: &str) -> Result<Option<bool>> {
    let view = format!("{CASE_VIEW}[data-case-id={}]", css_string(case_id));
    let shown = [
        Cond::Present(css(format!("{view} table#order-lines"))),
        Cond::Shown(css(CASE_NOT_FOUND)),
        Cond::HasText(css(ALERT)),
    ];
    match page.wait(&shown, Some(&LOGIN), "open case").await? {
        None => Ok(None),
        Some(0) => {
            let case = page.driver.find(css(view)).await?;
            let status = case.attr("data-status").await?;
            Ok(Some(status.as_deref() == Some("closed")))
        }
        Some(1) => {
            let text = text_of(page.driver, css(CASE_NOT_FOUND), "Sagen findes ikke").await;
            let reason = format!("unknown case: {text}");
            Err(Failure::new(FailureKind::UnknownCase, reason))
        }
        Some(_) => Err(server_error(page, ALERT).await),
    }
}

/// Adds the line through the dialog and waits until the table shows it.
#[tracing::instrument(skip_all, name = "add line")]
async fn add_line<H: BeforeSave>(
    page: &ErpPage<'_>,
    line: &LineToBook<'_>,
    gate: &SaveGate<'_, H>,
    seen: LinesSeen,
) -> Result<BookingPass> {
    let driver = page.driver;
    click(driver, css(ADD_LINE), "line dialog").await?;
    let dialog = [Cond::Shown(css(ITEM_INPUT))];
    let opened = page.wait(&dialog, Some(&LOGIN), "line dialog").await?;
    if opened.is_none() || !look_up_item(page, line.item_no).await? {
        return Ok(BookingPass::LoginPage);
    }
    fill(driver, css(QTY_INPUT), &line.amount).await?;
    fill(driver, css(REFERENCE_INPUT), &line.reference).await?;
    check_typed(driver, INPUTS, line).await?;
    // The second of the two agreeing reads that make "absent", the time
    // spent typing counting towards their gap.
    let check = tracing::info_span!("check reference");
    let present = page.has_reference_after(LINE_REFERENCES, &line.reference, Some(seen));
    if present.instrument(check).await? {
        return Ok(already_present());
    }
    gate.submit().await?;
    click(driver, css(SAVE), "confirm save").await?;
    confirm_save(page, line).await
}

/// Types the item number and waits for the lookup: `true` = item known,
/// `false` = login page; an unknown item is final.
#[tracing::instrument(skip_all, name = "item lookup")]
async fn look_up_item(page: &ErpPage<'_>, item_no: &str) -> Result<bool> {
    let typed = item_no.to_string() + Key::Tab;
    fill(page.driver, css(ITEM_INPUT), typed).await?;
    let lookup = [
        Cond::HasText(css(ITEM_NAME)),
        Cond::HasText(css(LINE_ERROR)),
        Cond::HasText(css(DIALOG_ERROR)),
    ];
    match page.wait(&lookup, Some(&LOGIN), "item lookup").await? {
        None => Ok(false),
        Some(0) => Ok(true),
        Some(1) => {
            let text = text_of(page.driver, css(LINE_ERROR), "Ukendt varenummer").await;
            let reason = format!("unknown item: {text}");
            Err(Failure::new(FailureKind::UnknownItem, reason))
        }
        Some(_) => Err(server_error(page, DIALOG_ERROR).await),
    }
}

/// Waits until the saved line shows with its reference.
#[tracing::instrument(skip_all, name = "confirm")]
async fn confirm_save(page: &ErpPage<'_>, line: &LineToBook<'_>) -> Result<BookingPass> {
    let outcome = [
        Cond::TextIs(LINE_REFERENCES, line.reference.clone()),
        Cond::HasText(css(DIALOG_ERROR)),
        Cond::HasText(css(DIALOG_REFUSAL)),
    ];
    match page.wait(&outcome, Some(&LOGIN), "confirm save").await? {
        None => Ok(BookingPass::LoginPage),
        Some(0) => Ok(BookingPass::Done(Booked::Added)),
        Some(1) => Err(server_error(page, DIALOG_ERROR).await),
        Some(_) => Err(server_error(page, DIALOG_REFUSAL).await),
    }
}

fn already_present() -> BookingPass {
    tracing::info!("reference already on the case");
    BookingPass::Done(Booked::AlreadyPresent)
}

/// Retryable `erp server error: <text of the element matching selector>`.
async fn server_error(page: &ErpPage<'_>, selector: &str) -> Failure {
    let text = text_of(page.driver, css(selector), "unexplained error").await;
    Failure::erp_server_error(text)
}
