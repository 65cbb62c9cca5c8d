//! ERP outages on the worker's side (design.md rule 6): whom a failed
//! attempt is charged to, the breaker that takes the integration down, the
//! reachability check while it is down, and orders that waited past their
//! maximum age. The facts go into the log (`integration down` / `up`); the
//! views, `/alive` and the metrics read them from there.

use std::time::{Duration, Instant};

use super::breaker::FaultVerdict;
use super::worker::{sync_pidfile, WorkerCtx};
use crate::erp::{self, BrowserSession, Credentials};
use crate::event_log::events::{now_ms, rfc3339};
use crate::event_log::{Command, OrderView, QueueKind};
use crate::order::{Blame, Failure, FailureKind};

/// The fault a refused login is recorded with.
const LOGIN_REFUSED: &str = "login refused";

/// Whether a failed attempt is charged to its order. An integration fault
/// is not (it feeds the breaker instead, which may take the integration
/// down); a refused login is kept per login.
pub(super) async fn charge_for(
    ctx: &WorkerCtx,
    order: Option<&OrderView>,
    attempt: u32,
    error: &Failure,
) -> bool {
    if error.kind == FailureKind::Unsettled {
        return true;
    }
    let saved = order
        .and_then(|o| o.submitted)
        .is_some_and(|s| s.attempt == attempt);
    if error.kind.blame_after(saved) != Blame::Integration {
        lock(ctx).on_order_outcome();
        return true;
    }
    if error.kind == FailureKind::LoginFailed {
        // Single-workshop mode: refused again after a login of the same ERP
        // worked since (another order's credentials, say the same user's
        // new password), the refusal is this order's (its password).
        let own = ctx.settings.credentials.is_some();
        if let Some(order) = order.filter(|o| !own && lock(ctx).is_order_specific(&o.unique_id)) {
            tracing::warn!(
                unique_id = %order.unique_id,
                "login refused again for this order while the ERP took other credentials: charged to the order"
            );
            return true;
        }
        let login = order.and_then(|o| login_of(ctx, o));
        refused(ctx, login).await;
        return false;
    }
    if let Some(order) = order.filter(|o| lock(ctx).is_order_specific(&o.unique_id)) {
        tracing::warn!(
            unique_id = %order.unique_id,
            fault = %error.reason,
            "the same fault again for this order while the ERP works for others: charged to the order"
        );
        return true;
    }
    let verdict = lock(ctx).on_integration_fault(now_ms(), Instant::now());
    match verdict {
        FaultVerdict::Uncharged => false,
        FaultVerdict::ChargeHead => true,
        FaultVerdict::Tripped { since_ms } => {
            tracing::warn!(fault = %error.reason, "the ERP is down; orders wait, checks begin");
            report(ctx, None, Some(&error.reason), since_ms).await;
            false
        }
    }
}

/// An attempt that went well.
pub(super) fn on_success(ctx: &WorkerCtx) {
    lock(ctx).on_order_outcome();
}

/// The login an order uses: the integration's own, else the order's.
pub(super) fn login_of(ctx: &WorkerCtx, order: &OrderView) -> Option<String> {
    match &ctx.settings.credentials {
        Some(own) => Some(own.username.clone()),
        None => order.order.as_ref()?.username.clone(),
    }
}

/// A refused login: kept per login; under `serve` (the integration's own
/// login) the whole integration waits for a check.
async fn refused(ctx: &WorkerCtx, login: Option<String>) {
    tracing::warn!(
        login = login.as_deref().unwrap_or(""),
        "the ERP refused the login; its orders wait"
    );
    if ctx.settings.credentials.is_some() {
        let mut breaker = lock(ctx);
        let first_check = Instant::now() + breaker.policy().check_initial;
        breaker.go_down(first_check);
    }
    report(ctx, login.as_deref(), Some(LOGIN_REFUSED), now_ms()).await;
}

/// Records what the worker found (appends only a change).
async fn report(ctx: &WorkerCtx, login: Option<&str>, fault: Option<&str>, since_ms: u64) {
    let command = Command::ReportErp {
        login: login.map(str::to_string),
        fault: fault.map(str::to_string),
        since_ms,
    };
    if let Err(e) = ctx.journal.execute(command).await {
        tracing::error!(error = %e, "cannot record the ERP's health");
    }
}

/// Whether the worker must wait for the ERP (and until when, for its next
/// reachability check).
pub(super) fn next_check(ctx: &WorkerCtx) -> Option<Instant> {
    lock(ctx).next_check()
}

/// When the refused logins of waiting orders are tried again: on the
/// check schedule while any is refused (single-workshop mode); `None` when
/// none is.
pub(super) fn refused_login_check(ctx: &WorkerCtx, planned: Option<Instant>) -> Option<Instant> {
    let refused =
        ctx.settings.credentials.is_none() && !ctx.journal.views().health.refused_logins.is_empty();
    if !refused {
        return None;
    }
    let wait = lock(ctx).policy().check_max;
    Some(planned.unwrap_or_else(|| Instant::now() + wait))
}

/// The reachability check (login page, then login) in a fresh browser;
/// records the result. The login tried is the integration's own, else that
/// of the first waiting order.
pub(super) async fn check(ctx: &WorkerCtx, session: &mut BrowserSession) {
    let Some(creds) = check_credentials(ctx).await else {
        // No order waits and no login is configured: nothing can be checked
        // nor booked; the next order brings credentials along.
        lock(ctx).on_check(true, Instant::now());
        report(ctx, None, None, now_ms()).await;
        return;
    };
    session.reset().await;
    // The browser is logged in as the check's login from now on: an order
    // with other credentials logs in afresh (its own password is typed).
    super::booking::switches_login(ctx, &creds);
    let settings = &ctx.settings;
    let started = Instant::now();
    let result = match session.driver().await {
        Ok(driver) => {
            let base = settings.erp_url.as_str();
            erp::log_in(
                settings.erp_type,
                driver,
                base,
                &creds,
                settings.step_timeout,
            )
            .await
        }
        Err(e) => Err(e),
    };
    sync_pidfile(ctx, session);
    let ms = started.elapsed().as_millis() as u64;
    // A refused login shows the ERP answers; under `serve` the integration
    // still cannot work with it, so it stays down.
    let own = settings.credentials.is_some();
    let works = match &result {
        Ok(()) => true,
        Err(e) => e.kind == FailureKind::LoginFailed && !own,
    };
    let up = lock(ctx).on_check(works, Instant::now());
    match &result {
        Ok(()) => {
            lock(ctx).note_erp_works();
            tracing::info!(ms, "reachability check: the ERP works");
            report(ctx, None, None, now_ms()).await;
            report(ctx, Some(&creds.username), None, now_ms()).await;
        }
        Err(e) if e.kind == FailureKind::LoginFailed => {
            tracing::warn!(
                ms,
                "reachability check: the ERP answers but refuses the login"
            );
            report(ctx, None, None, now_ms()).await;
            report(ctx, Some(&creds.username), Some(LOGIN_REFUSED), now_ms()).await;
        }
        Err(e) => tracing::warn!(ms, reason = %e.reason, "reachability check failed"),
    }
    if up {
        tracing::info!("the ERP is back; the queue resumes");
    }
}

/// The login a check tries: the integration's own, else a waiting order's.
async fn check_credentials(ctx: &WorkerCtx) -> Option<Credentials> {
    if let Some(own) = &ctx.settings.credentials {
        return Some(own.clone());
    }
    // An order whose login is refused first: its check is the one that can
    // let it go on.
    let head: Option<OrderView> = {
        let views = ctx.journal.views();
        let refused = |o: &&OrderView| {
            o.order
                .as_ref()
                .and_then(|d| d.username.as_deref())
                .is_some_and(|u| views.health.refused_logins.contains_key(u))
        };
        let waiting: Vec<&OrderView> = views
            .queue(QueueKind::Task)
            .filter(|o| o.is_pending() && o.credentials_ref.is_some())
            .collect();
        // Each check tries the next refused order's login in turn, so one
        // order with a wrong password cannot keep the others of its user
        // waiting.
        let refused_orders: Vec<&&OrderView> = waiting.iter().filter(|o| refused(o)).collect();
        let turn = *ctx.checks.borrow() as usize;
        let first = match refused_orders.len() {
            0 => waiting.first(),
            n => refused_orders.get(turn % n).copied(),
        };
        first.map(|o| (*o).clone())
    };
    super::booking::order_credentials(ctx, &head?).await.ok()
}

/// Orders that waited for the ERP longer than the maximum age fail
/// (`ERP unavailable since <time>`).
pub(super) async fn give_up_old_orders(ctx: &WorkerCtx) {
    let max_age = lock(ctx).policy().max_age;
    let now = now_ms();
    let (outage, old) = {
        let views = ctx.journal.views();
        let Some(outage) = views.health.down.clone() else {
            return;
        };
        let old: Vec<String> = views
            .queue(QueueKind::Task)
            .filter(|o| o.is_pending() && now.saturating_sub(o.received_ms) > millis(max_age))
            .map(|o| o.unique_id.clone())
            .collect();
        (outage, old)
    };
    for unique_id in old {
        let reason = format!("ERP unavailable since {}", rfc3339(outage.since_ms));
        tracing::warn!(unique_id = %unique_id, %reason, "order waited past its maximum age");
        let command = Command::GiveUp { unique_id, reason };
        if let Err(e) = ctx.journal.execute(command).await {
            tracing::error!(error = %e, "cannot record an order that waited too long");
        }
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}

fn lock(ctx: &WorkerCtx) -> std::sync::MutexGuard<'_, super::breaker::Breaker> {
    ctx.breaker
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
