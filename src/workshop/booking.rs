//! The worker's side of one booking: the order's ERP login, the line in the
//! driver's terms, and the hook that records `save submitted` durably
//! before the driver clicks save.

use super::file_stem;
use super::intake::SealedLogin;
use super::worker::{sync_pidfile, WorkerCtx};
use crate::erp::{
    self, book_line_with, capture_evidence, BeforeSave, BrowserSession, Credentials, OrderLine,
    Target,
};
use crate::event_log::{Command, EvidencePaths, OrderView};
use crate::order::{Booked, Failure, FailureKind};

/// Records `save submitted` for the attempt; the driver clicks save only
/// once that is durable.
struct RecordSubmission<'a> {
    ctx: &'a WorkerCtx,
    unique_id: &'a str,
    attempt: u32,
    trace_id: &'a str,
}

impl BeforeSave for RecordSubmission<'_> {
    async fn before_save(&self) -> erp::Result<()> {
        let command = Command::SubmitSave {
            unique_id: self.unique_id.to_string(),
            attempt: self.attempt,
            trace_id: Some(self.trace_id.to_string()),
        };
        match self.ctx.journal.execute(command).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(refusal)) => Err(Failure::new(
                FailureKind::Other,
                format!("save not submitted: {refusal}"),
            )),
            Err(e) => Err(Failure::new(
                FailureKind::Other,
                format!("save not submitted: the log cannot be written: {e}"),
            )),
        }
    }
}

/// One attempt's order: its number, whether it may add the line, and its
/// trace.
pub(super) struct Attempt<'a> {
    /// The order.
    pub order: &'a OrderView,
    /// The attempt's number.
    pub attempt: u32,
    /// False while an earlier save is unsettled: only look.
    pub may_add: bool,
    /// The attempt's trace id.
    pub trace_id: &'a str,
}

/// Books the order's line through the driver, within the attempt timeout.
pub(super) async fn book(
    ctx: &WorkerCtx,
    session: &mut BrowserSession,
    attempt: Attempt<'_>,
) -> erp::Result<Booked> {
    let order = attempt.order;
    let credentials = order_credentials(ctx, order).await?;
    if switches_login(ctx, &credentials) {
        // Another ERP user than the session's: start from a fresh browser.
        session.reset().await;
    }
    let data = order
        .order
        .as_ref()
        .ok_or_else(|| Failure::bad_input("order has no data"))?;
    let line = OrderLine {
        unique_id: order.unique_id.clone(),
        case_id: data.case_id.clone(),
        item_no: data.product_nr.clone(),
        amount: data.product_amount.clone(),
    };
    let settings = &ctx.settings;
    let work = async {
        session.driver().await?;
        sync_pidfile(ctx, session);
        let browser = session.driver().await?;
        let target = Target {
            erp: settings.erp_type,
            session: browser,
            base_url: &settings.erp_url,
            step_timeout: settings.step_timeout,
        };
        let hook = RecordSubmission {
            ctx,
            unique_id: &order.unique_id,
            attempt: attempt.attempt,
            trace_id: attempt.trace_id,
        };
        book_line_with(target, &line, &credentials, attempt.may_add, &hook).await
    };
    match tokio::time::timeout(settings.attempt_timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Failure::timeout(&format!(
            "attempt took longer than {} s",
            settings.attempt_timeout.as_secs()
        ))),
    }
}

/// Remembers `credentials` as the session's login; true if they differ from the last.
pub(super) fn switches_login(ctx: &WorkerCtx, credentials: &Credentials) -> bool {
    let mut last = ctx
        .session_login
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let switched = last.as_ref().is_some_and(|l| l != credentials);
    *last = Some(credentials.clone());
    switched
}

/// The ERP login for this order: the integration's own, else the order's.
pub(super) async fn order_credentials(
    ctx: &WorkerCtx,
    order: &OrderView,
) -> erp::Result<Credentials> {
    if let Some(own) = &ctx.settings.credentials {
        return Ok(own.clone());
    }
    let key = order
        .credentials_ref
        .as_deref()
        .ok_or_else(|| Failure::bad_input("order carried no credentials"))?;
    let sealed = ctx
        .journal
        .secret(key)
        .await
        .map_err(|e| Failure::new(FailureKind::Other, format!("credentials unreadable: {e}")))?
        .ok_or_else(|| Failure::bad_input("order's credentials are missing"))?;
    let context = super::intake::credentials_context(&ctx.settings.name, &order.unique_id);
    let plain = ctx
        .cipher
        .open(&sealed, &context)
        .map_err(Failure::bad_input)?;
    let login: SealedLogin =
        serde_json::from_slice(&plain).map_err(|_| Failure::bad_input("credentials unreadable"))?;
    Ok(Credentials {
        username: login.username,
        password: login.password,
    })
}

/// Keeps a screenshot and the page source of a failed attempt for support.
pub(super) async fn keep_evidence(
    ctx: &WorkerCtx,
    session: &mut BrowserSession,
    unique_id: &str,
    attempt: u32,
) -> EvidencePaths {
    if !session.is_open() {
        return EvidencePaths::default();
    }
    let Ok(browser) = session.driver().await else {
        return EvidencePaths::default();
    };
    let stem = format!("{}-attempt{attempt}", file_stem(unique_id));
    let dir = ctx.settings.evidence_dir();
    let saved = capture_evidence(browser, &dir, &stem).await;
    super::evidence::prune(&dir, ctx.settings.evidence);
    let relative = |p: Option<std::path::PathBuf>| {
        p.map(|p| {
            p.strip_prefix(ctx.settings.dir())
                .map(|r| r.display().to_string())
                .unwrap_or_else(|_| p.display().to_string())
        })
    };
    EvidencePaths {
        screenshot: relative(saved.screenshot),
        page_source: relative(saved.page_source),
    }
}
