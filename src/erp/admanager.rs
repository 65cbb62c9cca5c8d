//! The admanager driver: its older server-rendered UI as described in
//! shared/erp-ui.md (login page, work order page, the order lines inside
//! `iframe#linesFrame`, a native alert for unknown items).

use thirtyfour::prelude::*;
use tracing::Instrument;

use super::driver::{
    click, css, fill, holds, on_login_page, text_of, url_component, Booked, Cond, ErpUi, Error,
    Flow, Job, LoginProbe, Result, Viewed,
};
use super::probe::ProbeSteps;

/// How admanager's login page is recognised (also inside the lines frame).
const LOGIN: LoginProbe = LoginProbe {
    path: "/Account/Login",
    marker: "input#btnLogin",
};

const LINE_NOTES: &str = "table#gridLines tr.line td.note";
const ADD_BUTTON: &str = "input#btnTilfoej";
/// A refusal shown on the page or in the frame after a post.
const VALIDATION_ERROR: &str = "span.field-validation-error";

/// The admanager UI.
pub(crate) struct Admanager;

impl ErpUi for Admanager {
    async fn book_once(&self, job: &Job<'_>) -> Result<Flow> {
        dismiss_stray_alert(job.driver).await;
        job.goto(&case_path(job), "open case").await?;
        if !open_case(job).await? {
            return Ok(Flow::LoginPage);
        }
        let Some(locked) = open_lines_frame(job).await? else {
            return Ok(Flow::LoginPage);
        };
        let own_line = Cond::TextIs(css(LINE_NOTES), job.reference.clone());
        let check = tracing::info_span!("check reference");
        if holds(job.driver, &own_line).instrument(check).await? {
            tracing::info!("reference already on the case");
            return Ok(Flow::Done(Booked::AlreadyPresent));
        }
        if locked {
            let text = text_of(job.driver, css("div#locked"), "locked").await;
            return Err(Error::Final(format!("closed case: {text}")));
        }
        add_line(job).await
    }

    #[tracing::instrument(skip_all, name = "login")]
    async fn log_in(&self, job: &Job<'_>) -> Result<()> {
        let driver = job.driver;
        dismiss_stray_alert(driver).await;
        job.goto("/Account/Login", "login").await?;
        let form = [
            Cond::Shown(css("input#UserName")),
            Cond::Present(css("div#menu")),
        ];
        if job.wait(&form, None, "login").await? == Some(1) {
            return Ok(());
        }
        fill(driver, css("input#UserName"), &job.creds.username).await?;
        fill(driver, css("input#Password"), &job.creds.password).await?;
        click(driver, css("input#btnLogin"), "login").await?;
        let outcome = [
            Cond::Present(css("div#menu")),
            Cond::HasText(css("span.validation-summary-errors")),
        ];
        match job.wait(&outcome, None, "login").await? {
            Some(0) => Ok(()),
            _ => Err(Error::Final("login failed".into())),
        }
    }

    async fn view_case(&self, job: &Job<'_>, steps: &mut ProbeSteps) -> Result<Viewed> {
        dismiss_stray_alert(job.driver).await;
        let page = async {
            job.goto(&case_path(job), "open case").await?;
            open_case(job).await
        };
        if !steps.run("open case", page).await? {
            return Ok(Viewed::LoginPage);
        }
        let lines = async {
            if open_lines_frame(job).await?.is_none() {
                return Ok(false);
            }
            let table = [Cond::Present(css("table#gridLines"))];
            Ok(job
                .wait(&table, Some(&LOGIN), "open lines")
                .await?
                .is_some())
        };
        let shown = steps.run("open lines", lines).await?;
        job.driver.enter_default_frame().await?;
        Ok(if shown {
            Viewed::Shown
        } else {
            Viewed::LoginPage
        })
    }
}

/// The work order page's path.
fn case_path(job: &Job<'_>) -> String {
    format!("/WorkOrder/Edit?id={}", url_component(&job.order.case_id))
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
async fn open_case(job: &Job<'_>) -> Result<bool> {
    let page = [
        Cond::Present(css("iframe#linesFrame")),
        Cond::HasText(css(VALIDATION_ERROR)),
    ];
    match job.wait(&page, Some(&LOGIN), "open case").await? {
        None => Ok(false),
        Some(0) => Ok(true),
        Some(_) => {
            let text = text_of(job.driver, css(VALIDATION_ERROR), "Arbejdskort findes ikke").await;
            Err(Error::Final(format!("unknown case: {text}")))
        }
    }
}

/// Enters the lines frame and waits for its content: `Some(locked)`, or
/// `None` when the frame shows the login page.
#[tracing::instrument(skip_all, name = "open lines")]
async fn open_lines_frame(job: &Job<'_>) -> Result<Option<bool>> {
    job.driver
        .find(css("iframe#linesFrame"))
        .await?
        .enter_frame()
        .await?;
    let content = [
        Cond::Present(css(ADD_BUTTON)),
        Cond::Present(css("div#locked")),
    ];
    let seen = job.wait(&content, Some(&LOGIN), "open lines").await?;
    Ok(seen.map(|i| i == 1))
}

/// Adds the line inside the frame and waits until the reloaded frame shows it.
#[tracing::instrument(skip_all, name = "add line")]
async fn add_line(job: &Job<'_>) -> Result<Flow> {
    let driver = job.driver;
    if !look_up_item(job).await? {
        return Ok(Flow::LoginPage);
    }
    fill(driver, css("input#txtAntal"), &job.amount).await?;
    fill(driver, css("input#txtNote"), &job.reference).await?;
    let add = driver.find(css(ADD_BUTTON)).await?;
    click(driver, css(ADD_BUTTON), "confirm save").await?;
    let saved = [
        Cond::TextIs(css(LINE_NOTES), job.reference.clone()),
        Cond::HasText(css(VALIDATION_ERROR)),
        Cond::Gone(add),
    ];
    match job.wait(&saved, Some(&LOGIN), "confirm save").await? {
        None => Ok(Flow::LoginPage),
        Some(0) => Ok(Flow::Done(Booked::Added)),
        Some(1) => Err(refusal(job).await),
        Some(_) => reloaded(job).await,
    }
}

/// The frame reloaded; decides what its new page says about the save.
async fn reloaded(job: &Job<'_>) -> Result<Flow> {
    let driver = job.driver;
    if holds(
        driver,
        &Cond::TextIs(css(LINE_NOTES), job.reference.clone()),
    )
    .await?
    {
        return Ok(Flow::Done(Booked::Added));
    }
    if holds(driver, &Cond::HasText(css(VALIDATION_ERROR))).await? {
        return Err(refusal(job).await);
    }
    if on_login_page(driver, &LOGIN).await? {
        return Ok(Flow::LoginPage);
    }
    let text = text_of(driver, css("h1"), "lines frame reloaded without the line").await;
    Err(Error::Retryable(format!("erp server error: {text}")))
}

/// Retryable `erp server error: <the frame's validation message>`.
async fn refusal(job: &Job<'_>) -> Error {
    let text = text_of(job.driver, css(VALIDATION_ERROR), "unexplained error").await;
    Error::Retryable(format!("erp server error: {text}"))
}

/// Types the item number and waits for the lookup: `true` = item known,
/// `false` = login page; an unknown item (native alert) is final.
#[tracing::instrument(skip_all, name = "item lookup")]
async fn look_up_item(job: &Job<'_>) -> Result<bool> {
    let typed = job.order.item_no.clone() + Key::Tab;
    fill(job.driver, css("input#txtVareNr"), typed).await?;
    let lookup = [Cond::Alert, Cond::HasText(css("span#lblVareNavn"))];
    match job.wait(&lookup, Some(&LOGIN), "item lookup").await? {
        None => Ok(false),
        Some(1) => Ok(true),
        Some(_) => {
            let text = job.driver.get_alert_text().await?;
            job.driver.accept_alert().await?;
            Err(Error::Final(format!("unknown item: {}", text.trim())))
        }
    }
}
