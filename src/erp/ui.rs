//! The UI trait one ERP type implements, and what its operations are given:
//! the browser on the ERP ([`ErpPage`]) and, for a booking, the line in the
//! ERP's own forms ([`LineToBook`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use thirtyfour::prelude::*;

use super::booking::Credentials;
use super::error::{navigation_error, Failure, Result};
use super::fields::{first_look, has_reference_after, LinesSeen, Look, ReferenceCheck};
use super::probe::ProbeSteps;
use super::waiting::{wait_for_any, Cond, LoginLandmarks, WaitEnd};
use crate::order::Booked;

/// The browser on one ERP: the session, the ERP's base URL and each step's
/// deadline.
#[derive(Debug, Clone, Copy)]
pub struct ErpPage<'a> {
    /// The WebDriver session to drive.
    pub driver: &'a WebDriver,
    /// The ERP's base URL, without a trailing slash.
    pub base_url: &'a str,
    /// Deadline of each single step.
    pub step_timeout: Duration,
}

impl ErpPage<'_> {
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
        login: Option<&LoginLandmarks>,
        step: &str,
    ) -> Result<Option<usize>> {
        match wait_for_any(self.driver, conds, login, self.step_timeout, step).await? {
            WaitEnd::Target(i) => Ok(Some(i)),
            WaitEnd::LoginPage => Ok(None),
        }
    }
}

impl ErpPage<'_> {
    /// Whether a line with `reference` is among the cells matching
    /// `selector`, from complete reads (see [`super::fields::has_reference`])
    /// within the step timeout.
    pub async fn has_reference(&self, selector: &str, reference: &str) -> Result<bool> {
        self.has_reference_after(selector, reference, None).await
    }

    /// The first look at a case's lines: one complete read. `NotSeen` is
    /// not yet "absent": [`ErpPage::has_reference_after`] decides that
    /// later (say, once the line is typed, right before the save).
    pub async fn look_for(&self, selector: &str, reference: &str) -> Result<Look> {
        first_look(
            self.driver,
            selector,
            reference,
            self.step_timeout,
            "check reference",
        )
        .await
    }

    /// [`ErpPage::has_reference`], going on from the first look `seen`: the
    /// time spent typing the line counts towards the gap between the two
    /// agreeing reads that make "absent".
    pub async fn has_reference_after(
        &self,
        selector: &str,
        reference: &str,
        seen: Option<LinesSeen>,
    ) -> Result<bool> {
        let check = ReferenceCheck {
            selector,
            reference,
            gap: ABSENT_GAP.min(self.step_timeout / 4),
            timeout: self.step_timeout,
            step: "check reference",
        };
        has_reference_after(self.driver, check, seen).await
    }
}

/// How far apart two agreeing reads of a case's lines must be before a
/// line counts as absent.
pub const ABSENT_GAP: Duration = Duration::from_millis(500);

/// The line a booking puts on its case, in the form the ERP's fields take.
#[derive(Debug, Clone)]
pub struct LineToBook<'a> {
    /// The case (work order) id.
    pub case_id: &'a str,
    /// The item number.
    pub item_no: &'a str,
    /// The amount with a decimal comma (`4,5`).
    pub amount: String,
    /// The line reference, `OilMat <unique_id>`.
    pub reference: String,
}

/// Told right before every save click, so that the caller can record the
/// submission durably first (design.md rule 6: a save whose outcome is
/// unknown). An error stops the booking before the click. (Its futures
/// need not be `Send`: the worker runs attempts on its own thread.)
#[allow(async_fn_in_trait)]
pub trait BeforeSave {
    /// Called before the save button is clicked.
    async fn before_save(&self) -> Result<()>;
}

/// Nobody to tell.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;

impl BeforeSave for NoHook {
    async fn before_save(&self) -> Result<()> {
        Ok(())
    }
}

/// Whether a booking may add its line, and whom it tells before a save.
/// After one save in a booking, the same booking adds no second line: the
/// first one's outcome is unknown until the ERP shows it.
#[derive(Debug)]
pub struct SaveGate<'h, H> {
    may_add: AtomicBool,
    hook: &'h H,
}

impl<'h, H: BeforeSave> SaveGate<'h, H> {
    /// A gate that lets a line be added if `may_add`, telling `hook` first.
    pub fn new(may_add: bool, hook: &'h H) -> Self {
        SaveGate {
            may_add: AtomicBool::new(may_add),
            hook,
        }
    }

    /// `Ok` if a line may be added now; else the retryable
    /// [`Failure::unsettled`], to look again later.
    pub fn check_may_add(&self) -> Result<()> {
        if self.may_add.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(Failure::unsettled())
        }
    }

    /// Tells the hook that a save is about to be clicked; from now on this
    /// booking adds nothing more.
    pub async fn submit(&self) -> Result<()> {
        self.check_may_add()?;
        self.hook.before_save().await?;
        self.may_add.store(false, Ordering::Relaxed);
        Ok(())
    }
}

/// How one pass through an ERP's booking flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingPass {
    /// Finished.
    Done(Booked),
    /// A step landed on the login page: log in and go again.
    LoginPage,
}

/// How looking at a case (without changing it) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseView {
    /// The case showed as the UI contract says, with its lines.
    Shown,
    /// A step landed on the login page: log in and look again.
    LoginPage,
}

/// One ERP's UI: what a new ERP type implements (plus one arm in
/// [`super::booking`]'s `with_ui`).
pub(crate) trait ErpUi {
    /// Logs in from the ERP's login page; a refused login is `login failed`.
    async fn log_in(&self, page: &ErpPage<'_>, creds: &Credentials) -> Result<()>;
    /// Opens the case and books the line, stopping at the login page.
    /// Adds a line only while `gate` allows, telling it before the save.
    async fn book_once<H: BeforeSave>(
        &self,
        page: &ErpPage<'_>,
        line: &LineToBook<'_>,
        gate: &SaveGate<'_, H>,
    ) -> Result<BookingPass>;
    /// Opens the case and checks it shows with its lines as the UI contract
    /// says, adding nothing; each page it waits for is a step in `steps`.
    async fn view_case(
        &self,
        page: &ErpPage<'_>,
        case_id: &str,
        steps: &mut ProbeSteps,
    ) -> Result<CaseView>;
}
