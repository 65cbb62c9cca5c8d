//! The admanager driver: its older server-rendered UI as described in
//! shared/erp-ui.md (login page, work order page, the order lines inside
//! `iframe#linesFrame`, a native alert for unknown items).

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
use super::waiting::{click, css, fill, holds, on_login_page, text_of, Cond};
use crate::order::{Booked, FailureKind};

/// The add-line inputs inside the frame, read back before a save.
const INPUTS: LineInputs = LineInputs {
    item: ITEM_INPUT,
    amount: QTY_INPUT,
    reference: NOTE_INPUT,
};

/// The admanager UI.
pub(crate) struct Admanager;

impl ErpUi for Admanager {
    #[tracing::instrument(skip_all, name = "login")]
    async fn log_in(&self, page: &ErpPage<'_>, creds: &Credentials) -> Result<()> {
        dismiss_stray_alert(page.driver).await;
        log_in_with(page, &LOGIN_FORM, creds).await
    }

    async fn book_once<H: BeforeSave>(
        &self,
        page: &ErpPage<'_>,
        line: &LineToBook<'_>,
        gate: &SaveGate<'_, H>,
    ) -> Result<BookingPass> {
        dismiss_stray_alert(page.driver).await;
        page.goto(&case_path(line.case_id), "open case").await?;
        if !open_case(page).await? {
            return Ok(BookingPass::LoginPage);
        }
        let Some(locked) = open_lines_frame(page).await? else {
            return Ok(BookingPass::LoginPage);
        };
        let check = tracing::info_span!("check reference");
        let seen = match page
            .look_for(LINE_NOTES, &line.reference)
            .instrument(check.clone())
            .await?
        {
            Look::Present => return Ok(already_present()),
            Look::NotSeen(seen) => seen,
        };
        if locked || gate.check_may_add().is_err() {
            // Nothing to type: decide "absent" now.
            let seen = Some(seen.clone());
            let present = page.has_reference_after(LINE_NOTES, &line.reference, seen);
            if present.instrument(check).await? {
                return Ok(already_present());
            }
            if locked {
                let text = text_of(page.driver, css(LOCKED), "locked").await;
                let reason = format!("closed case: {text}");
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
        dismiss_stray_alert(page.driver).await;
        let opened = async {
            page.goto(&case_path(case_id), "open case").await?;
            open_case(page).await
        };
        if !steps.run("open case", opened).await? {
            return Ok(CaseView::LoginPage);
        }
        let lines = async {
            if open_lines_frame(page).await?.is_none() {
                return Ok(false);
            }
            let table = [Cond::Present(css(LINES_TABLE))];
            let seen = page.wait(&table, Some(&LOGIN), "open lines").await?;
            Ok(seen.is_some())
        };
        let shown = steps.run("open lines", lines).await?;
        page.driver.enter_default_frame().await?;
        Ok(if shown {
            CaseView::Shown
        } else {
            CaseView::LoginPage
        })
    }
}

/// An alert left open by an earlier call would block every command.
async fn dismiss_stray_alert(driver: &WebDriver) {
    if driver.accept_alert().await.is_ok() {
        tracing::warn!("accepted a stray alert");
    }
}

/// Waits for the work order page: `true` once its lines frame is there,
/// `false` on the login page; an unknown case is final.
#[tracing::instrument(skip_all, name = "open case")]
async fn open_case(page: &ErpPage<'_>) -> Result<bool> {
    let shown = [
        Cond::Present(css(LINES_FRAME)),
        Cond::HasText(css(VALIDATION_ERROR)),
    ];
    match page.wait(&shown, Some(&LOGIN), "open case").await? {
        None => Ok(false),
        Some(0) => Ok(true),
        Some(_) => {
            let fallback = "Arbejdskort findes ikke";
            let text = text_of(page.driver, css(VALIDATION_ERROR), fallback).await;
            let reason = format!("unknown case: {text}");
            Err(Failure::new(FailureKind::UnknownCase, reason))
        }
    }
}

/// Enters the lines frame and waits for its content: `Some(locked)`, or
/// `None` when the frame shows the login page.
#[tracing::instrument(skip_all, name = "open lines")]
async fn open_lines_frame(page: &ErpPage<'_>) -> Result<Option<bool>> {
    let frame = page.driver.find(css(LINES_FRAME)).await?;
    frame.enter_frame().await?;
    let content = [Cond::Present(css(ADD_BUTTON)), Cond::Present(css(LOCKED))];
    let seen = page.wait(&content, Some(&LOGIN), "open lines").await?;
    Ok(seen.map(|i| i == 1))
}

/// Adds the line inside the frame and waits until the reloaded frame shows it.
#[tracing::instrument(skip_all, name = "add line")]
async fn add_line<H: BeforeSave>(
    page: &ErpPage<'_>,
    line: &LineToBook<'_>,
    gate: &SaveGate<'_, H>,
    seen: LinesSeen,
) -> Result<BookingPass> {
    let driver = page.driver;
    if !look_up_item(page, line.item_no).await? {
        return Ok(BookingPass::LoginPage);
    }
    fill(driver, css(QTY_INPUT), &line.amount).await?;
    fill(driver, css(NOTE_INPUT), &line.reference).await?;
    check_typed(driver, INPUTS, line).await?;
    // The second of the two agreeing reads that make "absent", the time
    // spent typing counting towards their gap.
    let check = tracing::info_span!("check reference");
    let present = page.has_reference_after(LINE_NOTES, &line.reference, Some(seen));
    if present.instrument(check).await? {
        return Ok(already_present());
    }
    gate.submit().await?;
    let add = driver.find(css(ADD_BUTTON)).await?;
    click(driver, css(ADD_BUTTON), "confirm save").await?;
    let saved = [
        Cond::TextIs(LINE_NOTES, line.reference.clone()),
        Cond::HasText(css(VALIDATION_ERROR)),
        Cond::Gone(add),
    ];
    match page.wait(&saved, Some(&LOGIN), "confirm save").await? {
        None => Ok(BookingPass::LoginPage),
        Some(0) => Ok(BookingPass::Done(Booked::Added)),
        Some(1) => Err(refusal(page).await),
        Some(_) => reloaded(page, line).await,
    }
}

/// The frame reloaded; decides what its new page says about the save. The
/// line counts as missing only from complete reads of the new page (a list
/// that re-renders itself is no reload).
async fn reloaded(page: &ErpPage<'_>, line: &LineToBook<'_>) -> Result<BookingPass> {
    let driver = page.driver;
    if page.has_reference(LINE_NOTES, &line.reference).await? {
        return Ok(BookingPass::Done(Booked::Added));
    }
    if holds(driver, &Cond::HasText(css(VALIDATION_ERROR))).await? {
        return Err(refusal(page).await);
    }
    if on_login_page(driver, &LOGIN).await? {
        return Ok(BookingPass::LoginPage);
    }
    let text = text_of(driver, css("h1"), "lines frame reloaded without the line").await;
    Err(Failure::erp_server_error(text))
}

fn already_present() -> BookingPass {
    tracing::info!("reference already on the case");
    BookingPass::Done(Booked::AlreadyPresent)
}

/// Retryable `erp server error: <the frame's validation message>`.
async fn refusal(page: &ErpPage<'_>) -> Failure {
    let text = text_of(page.driver, css(VALIDATION_ERROR), "unexplained error").await;
    Failure::erp_server_error(text)
}

/// Types the item number and waits for the lookup: `true` = item known,
/// `false` = login page; an unknown item (native alert) is final.
#[tracing::instrument(skip_all, name = "item lookup")]
async fn look_up_item(page: &ErpPage<'_>, item_no: &str) -> Result<bool> {
    let typed = item_no.to_string() + Key::Tab;
    fill(page.driver, css(ITEM_INPUT), typed).await?;
    let lookup = [Cond::Alert, Cond::HasText(css(ITEM_NAME))];
    match page.wait(&lookup, Some(&LOGIN), "item lookup").await? {
        None => Ok(false),
        Some(1) => Ok(true),
        Some(_) => {
            let text = page.driver.get_alert_text().await?;
            page.driver.accept_alert().await?;
            let reason = format!("unknown item: {}", text.trim());
            Err(Failure::new(FailureKind::UnknownItem, reason))
        }
    }
}
