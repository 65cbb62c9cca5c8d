//! The au2office driver: its single-page style UI as described in
//! shared/erp-ui.md (login form, case view, order lines table, add-line
//! dialog with an asynchronous item lookup).

use thirtyfour::prelude::*;
use tracing::Instrument;

use super::driver::{
    click, css, css_string, fill, holds, text_of, url_component, Booked, Cond, ErpUi, Error, Flow,
    Job, LoginProbe, Result, Viewed,
};
use super::probe::ProbeSteps;

/// How au2office's login page is recognised.
const LOGIN: LoginProbe = LoginProbe {
    path: "/login",
    marker: "form#login-form",
};

const USERNAME: &str = "form#login-form input[name=username]";
const PASSWORD: &str = "form#login-form input[name=password]";
const LINE_REFERENCES: &str = "table#order-lines tr.order-line td.reference";
/// A server error shown in the add-line dialog.
const DIALOG_ERROR: &str = "div#line-dialog div.alert-danger";
/// A save refused with a reason, in the lookup's error style (not in the
/// contract; the sandbox does it for 4xx answers).
const DIALOG_REFUSAL: &str = "div#line-dialog div.line-error";

/// The au2office UI.
pub(crate) struct Au2office;

impl ErpUi for Au2office {
    async fn book_once(&self, job: &Job<'_>) -> Result<Flow> {
        job.goto(&case_path(job), "open case").await?;
        let Some(closed) = open_case(job).await? else {
            return Ok(Flow::LoginPage);
        };
        let own_line = Cond::TextIs(css(LINE_REFERENCES), job.reference.clone());
        let check = tracing::info_span!("check reference");
        if holds(job.driver, &own_line).instrument(check).await? {
            tracing::info!("reference already on the case");
            return Ok(Flow::Done(Booked::AlreadyPresent));
        }
        if closed {
            let case_id = &job.order.case_id;
            return Err(Error::Final(format!(
                "closed case: case {case_id} is closed"
            )));
        }
        add_line(job).await
    }

    #[tracing::instrument(skip_all, name = "login")]
    async fn log_in(&self, job: &Job<'_>) -> Result<()> {
        let driver = job.driver;
        job.goto("/login", "login").await?;
        let form = [
            Cond::Shown(css(USERNAME)),
            Cond::Present(css("nav#main-nav")),
        ];
        if job.wait(&form, None, "login").await? == Some(1) {
            return Ok(());
        }
        fill(driver, css(USERNAME), &job.creds.username).await?;
        fill(driver, css(PASSWORD), &job.creds.password).await?;
        click(driver, css("button#login-button"), "login").await?;
        let outcome = [
            Cond::Present(css("nav#main-nav")),
            Cond::HasText(css("div.alert-danger")),
        ];
        match job.wait(&outcome, None, "login").await? {
            Some(0) => Ok(()),
            _ => Err(Error::Final("login failed".into())),
        }
    }

    async fn view_case(&self, job: &Job<'_>, steps: &mut ProbeSteps) -> Result<Viewed> {
        let opened = async {
            job.goto(&case_path(job), "open case").await?;
            open_case(job).await
        };
        match steps.run("open case", opened).await? {
            Some(_) => Ok(Viewed::Shown),
            None => Ok(Viewed::LoginPage),
        }
    }
}

/// The case page's path.
fn case_path(job: &Job<'_>) -> String {
    format!("/cases/{}", url_component(&job.order.case_id))
}

/// Waits for the case view with its lines table. `Some(closed)` once it is
/// there, `None` on the login page; an unknown case is final.
#[tracing::instrument(skip_all, name = "open case")]
async fn open_case(job: &Job<'_>) -> Result<Option<bool>> {
    let view = format!(
        "div#case-view[data-case-id={}]",
        css_string(&job.order.case_id)
    );
    let page = [
        Cond::Present(css(format!("{view} table#order-lines"))),
        Cond::Shown(css("div#case-not-found")),
        Cond::HasText(css("div.alert-danger")),
    ];
    match job.wait(&page, Some(&LOGIN), "open case").await? {
        None => Ok(None),
        Some(0) => {
            let status = job
                .driver
                .find(css(view))
                .await?
                .attr("data-status")
                .await?;
            Ok(Some(status.as_deref() == Some("closed")))
        }
        Some(1) => {
            let text = text_of(job.driver, css("div#case-not-found"), "Sagen findes ikke").await;
            Err(Error::Final(format!("unknown case: {text}")))
        }
        Some(_) => Err(server_error(job, "div.alert-danger").await),
    }
}

/// Adds the line through the dialog and waits until the table shows it.
#[tracing::instrument(skip_all, name = "add line")]
async fn add_line(job: &Job<'_>) -> Result<Flow> {
    let driver = job.driver;
    click(driver, css("button#add-line"), "line dialog").await?;
    let dialog = [Cond::Shown(css("div#line-dialog input#line-item-no"))];
    let opened = job.wait(&dialog, Some(&LOGIN), "line dialog").await?;
    if opened.is_none() || !look_up_item(job).await? {
        return Ok(Flow::LoginPage);
    }
    fill(driver, css("input#line-qty"), &job.amount).await?;
    fill(driver, css("input#line-reference"), &job.reference).await?;
    click(driver, css("button#line-save"), "confirm save").await?;
    confirm_save(job).await
}

/// Types the item number and waits for the lookup: `true` = item known,
/// `false` = login page; an unknown item is final.
#[tracing::instrument(skip_all, name = "item lookup")]
async fn look_up_item(job: &Job<'_>) -> Result<bool> {
    let typed = job.order.item_no.clone() + Key::Tab;
    fill(job.driver, css("input#line-item-no"), typed).await?;
    let lookup = [
        Cond::HasText(css("span#line-item-name")),
        Cond::HasText(css("div.line-error")),
        Cond::HasText(css(DIALOG_ERROR)),
    ];
    match job.wait(&lookup, Some(&LOGIN), "item lookup").await? {
        None => Ok(false),
        Some(0) => Ok(true),
        Some(1) => {
            let text = text_of(job.driver, css("div.line-error"), "Ukendt varenummer").await;
            Err(Error::Final(format!("unknown item: {text}")))
        }
        Some(_) => Err(server_error(job, DIALOG_ERROR).await),
    }
}

/// Waits until the saved line shows with its reference.
#[tracing::instrument(skip_all, name = "confirm")]
async fn confirm_save(job: &Job<'_>) -> Result<Flow> {
    let outcome = [
        Cond::TextIs(css(LINE_REFERENCES), job.reference.clone()),
        Cond::HasText(css(DIALOG_ERROR)),
        Cond::HasText(css(DIALOG_REFUSAL)),
    ];
    match job.wait(&outcome, Some(&LOGIN), "confirm save").await? {
        None => Ok(Flow::LoginPage),
        Some(0) => Ok(Flow::Done(Booked::Added)),
        Some(1) => Err(server_error(job, DIALOG_ERROR).await),
        Some(_) => Err(server_error(job, DIALOG_REFUSAL).await),
    }
}

/// Retryable `erp server error: <text of the element matching selector>`.
async fn server_error(job: &Job<'_>, selector: &str) -> Error {
    let text = text_of(job.driver, css(selector), "unexplained error").await;
    Error::Retryable(format!("erp server error: {text}"))
}
