//! Status: answers from the durable views (what has been fsync'd): an order's
//! status, the queues, whether the worker runs, and the metrics.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::{json, Value};

use super::worker::WorkerState;
use crate::event_log::events::rfc3339;
use crate::event_log::order_index::{Filter, OrderPage, OrderRow};
use crate::event_log::views::{ErpHealth, Outage};
use crate::event_log::{Journal, OrderView, QueueKind, Status};
use crate::telemetry::metrics;

/// The status actor of one workshop.
pub struct StatusDesk {
    journal: Journal,
    worker: Arc<WorkerState>,
    workshop: String,
    /// The integration's own ERP login (under `serve`), if it has one.
    own_login: Option<String>,
}

impl StatusDesk {
    /// A desk reading `journal`'s views and the worker's state.
    pub fn new(
        journal: Journal,
        worker: Arc<WorkerState>,
        workshop: String,
        own_login: Option<String>,
    ) -> Self {
        StatusDesk {
            journal,
            worker,
            workshop,
            own_login,
        }
    }

    /// The login an order uses: the integration's own, else the order's.
    fn login_of<'a>(&'a self, order: &'a OrderView) -> Option<&'a str> {
        self.own_login
            .as_deref()
            .or_else(|| order.order.as_ref()?.username.as_deref())
    }
}

/// The ERP's state as `/alive` and the overview show it (interfaces.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErpState {
    /// `up` or `down`.
    pub state: &'static str,
    /// While down: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// While down: since when (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// While up: how many logins the ERP refuses (single-workshop mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logins_refused: Option<usize>,
}

impl ErpState {
    /// The state of `health`; a workshop with its own login is down while
    /// the ERP refuses that login.
    pub fn of(health: &ErpHealth, own_login: Option<&str>) -> ErpState {
        let outage = match own_login {
            Some(login) => health.blocking(Some(login)),
            None => health.blocking(None),
        };
        if let Some(outage) = outage {
            return ErpState {
                state: "down",
                fault: Some(outage.fault.clone()),
                since: Some(rfc3339(outage.since_ms)),
                logins_refused: None,
            };
        }
        let refused = health.refused_logins.len();
        ErpState {
            state: "up",
            fault: None,
            since: None,
            logins_refused: (refused > 0).then_some(refused),
        }
    }
}

/// The reason an order waiting on an outage shows.
pub fn waiting_reason(outage: &Outage) -> String {
    format!(
        "waiting for the ERP: {} since {}",
        outage.fault,
        rfc3339(outage.since_ms)
    )
}

/// The ERP's state now.
#[derive(Message)]
#[rtype(result = "ErpState")]
pub struct GetErpState;

impl Handler<GetErpState> for StatusDesk {
    type Result = MessageResult<GetErpState>;

    fn handle(&mut self, _: GetErpState, _: &mut Self::Context) -> Self::Result {
        let views = self.journal.views();
        MessageResult(ErpState::of(&views.health, self.own_login.as_deref()))
    }
}

impl Actor for StatusDesk {
    type Context = Context<Self>;
}

/// An order's status and reason, if the order is known.
#[derive(Message)]
#[rtype(result = "Option<(Status, Option<String>)>")]
pub struct GetStatus(pub String);

/// A page of a queue as the API shows it (password as `***`): `limit`
/// entries (all when `None`) from `offset` on, and the queue's whole length.
#[derive(Message)]
#[rtype(result = "QueuePage")]
pub struct GetQueue {
    /// Which queue.
    pub kind: QueueKind,
    /// Entries skipped, oldest first.
    pub offset: usize,
    /// At most this many entries; `None`: the rest of the queue.
    pub limit: Option<usize>,
}

/// A page of a queue.
#[derive(Debug, Clone)]
pub struct QueuePage {
    /// The whole queue's length.
    pub length: usize,
    /// The page's entries.
    pub entries: Vec<Value>,
}

/// Whether the worker runs.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct IsWorkerRunning;

/// The Prometheus text of this workshop.
#[derive(Message)]
#[rtype(result = "String")]
pub struct RenderMetrics;

/// This workshop's figures for a scrape of many (the host's `/metrics`).
#[derive(Message)]
#[rtype(result = "metrics::WorkshopSample")]
pub struct TakeSample;

/// The log's events, all or one order's (read through the journal).
#[derive(Message)]
#[rtype(result = "crate::event_log::Result<Vec<crate::event_log::Event>>")]
pub struct GetEvents(pub Option<String>);

/// One page of the workshop's orders, newest first, from its order index
/// (read off the journal's writer thread).
#[derive(Message)]
#[rtype(result = "crate::event_log::Result<OrderPage>")]
pub struct GetOrderPage {
    /// What the list is narrowed to.
    pub filter: Filter,
    /// Which page, from 0.
    pub page: usize,
    /// Rows per page.
    pub per_page: usize,
}

/// One order's row in the order index (any order the log has seen).
#[derive(Message)]
#[rtype(result = "crate::event_log::Result<Option<OrderRow>>")]
pub struct GetOrderRow(pub String);

/// The workshop's last N operator actions, newest first: (when, what by whom).
#[derive(Message)]
#[rtype(result = "crate::event_log::Result<Vec<(u64, String)>>")]
pub struct GetOperatorActions(pub usize);

/// The workshop's last N `integration down` / `up` events, oldest first.
#[derive(Message)]
#[rtype(result = "crate::event_log::Result<Vec<crate::event_log::Event>>")]
pub struct GetHealthEvents(pub usize);

/// A short health summary (for the management API).
#[derive(Message)]
#[rtype(result = "Health")]
pub struct GetHealth;

/// How a workshop is doing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    /// The worker runs.
    pub worker_running: bool,
    /// The worker's last attempts failed for reasons other than the order.
    pub worker_failing: bool,
    /// Orders waiting or in progress.
    pub task: usize,
    /// Orders failed for good.
    pub error: usize,
    /// When the last order completed (ms since epoch).
    pub last_completed_ms: Option<u64>,
    /// The last final failure.
    pub last_error: Option<String>,
    /// False while the log cannot be written.
    pub log_writable: bool,
    /// The ERP's health.
    pub erp: ErpState,
}

impl Handler<GetStatus> for StatusDesk {
    type Result = Option<(Status, Option<String>)>;

    fn handle(&mut self, msg: GetStatus, _: &mut Self::Context) -> Self::Result {
        let views = self.journal.views();
        let order = views.order(&msg.0)?;
        let waiting = order
            .is_pending()
            .then(|| views.health.blocking(self.login_of(&order)))
            .flatten();
        let reason = waiting.map(waiting_reason).or_else(|| order.reason.clone());
        Some((order.status, reason))
    }
}

impl Handler<GetQueue> for StatusDesk {
    type Result = MessageResult<GetQueue>;

    /// Copies the page's orders under the views' lock, and serialises them
    /// after it is released: intake never waits on a long queue's JSON.
    fn handle(&mut self, msg: GetQueue, _: &mut Self::Context) -> Self::Result {
        let (length, page): (usize, Vec<OrderView>) = {
            let views = self.journal.views();
            let page = views
                .queue(msg.kind)
                .skip(msg.offset)
                .take(msg.limit.unwrap_or(usize::MAX))
                .cloned()
                .collect();
            (views.queue_len(msg.kind), page)
        };
        MessageResult(QueuePage {
            length,
            entries: page.iter().map(queue_entry).collect(),
        })
    }
}

/// An order as the queue endpoints show it: the original fields, password hidden.
pub fn queue_entry(order: &OrderView) -> Value {
    let data = order.order.as_ref();
    let field = |f: fn(&crate::event_log::OrderData) -> &str| data.map(f).unwrap_or("");
    json!({
        "workshop": field(|o| &o.workshop),
        "case_id": field(|o| &o.case_id),
        "product_nr": field(|o| &o.product_nr),
        "product_amount": field(|o| &o.product_amount),
        "unique_id": order.unique_id,
        "username": data.and_then(|o| o.username.clone()),
        "password": "***",
        "status": order.status.as_str(),
        "reason": order.reason,
        "attempt": order.attempt,
    })
}

impl Handler<IsWorkerRunning> for StatusDesk {
    type Result = bool;

    fn handle(&mut self, _: IsWorkerRunning, _: &mut Self::Context) -> Self::Result {
        self.worker.is_running()
    }
}

impl Handler<RenderMetrics> for StatusDesk {
    type Result = String;

    fn handle(&mut self, _: RenderMetrics, _: &mut Self::Context) -> Self::Result {
        metrics::render(&[self.sample()])
    }
}

impl Handler<TakeSample> for StatusDesk {
    type Result = MessageResult<TakeSample>;

    fn handle(&mut self, _: TakeSample, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.sample())
    }
}

impl Handler<GetEvents> for StatusDesk {
    type Result = ResponseFuture<crate::event_log::Result<Vec<crate::event_log::Event>>>;

    fn handle(&mut self, msg: GetEvents, _: &mut Self::Context) -> Self::Result {
        let journal = self.journal.clone();
        Box::pin(async move { journal.events(msg.0).await })
    }
}

impl Handler<GetOrderPage> for StatusDesk {
    type Result = ResponseFuture<crate::event_log::Result<OrderPage>>;

    fn handle(&mut self, msg: GetOrderPage, _: &mut Self::Context) -> Self::Result {
        let journal = self.journal.clone();
        Box::pin(async move { journal.order_page(msg.filter, msg.page, msg.per_page).await })
    }
}

impl Handler<GetOrderRow> for StatusDesk {
    type Result = ResponseFuture<crate::event_log::Result<Option<OrderRow>>>;

    fn handle(&mut self, msg: GetOrderRow, _: &mut Self::Context) -> Self::Result {
        let journal = self.journal.clone();
        Box::pin(async move { journal.order_row(msg.0).await })
    }
}

impl Handler<GetOperatorActions> for StatusDesk {
    type Result = ResponseFuture<crate::event_log::Result<Vec<(u64, String)>>>;

    fn handle(&mut self, msg: GetOperatorActions, _: &mut Self::Context) -> Self::Result {
        let journal = self.journal.clone();
        Box::pin(async move { journal.operator_actions(msg.0).await })
    }
}

impl Handler<GetHealthEvents> for StatusDesk {
    type Result = ResponseFuture<crate::event_log::Result<Vec<crate::event_log::Event>>>;

    fn handle(&mut self, msg: GetHealthEvents, _: &mut Self::Context) -> Self::Result {
        let journal = self.journal.clone();
        Box::pin(async move { journal.health_events(msg.0).await })
    }
}

impl Handler<GetHealth> for StatusDesk {
    type Result = MessageResult<GetHealth>;

    fn handle(&mut self, _: GetHealth, _: &mut Self::Context) -> Self::Result {
        let views = self.journal.views();
        MessageResult(Health {
            worker_running: self.worker.is_running(),
            worker_failing: self.worker.is_failing(),
            task: views.queue_len(QueueKind::Task),
            error: views.queue_len(QueueKind::Error),
            last_completed_ms: views.last_completed_ms,
            last_error: views.last_error.as_ref().map(|(r, _)| r.clone()),
            log_writable: self.journal.is_writable(),
            erp: ErpState::of(&views.health, self.own_login.as_deref()),
        })
    }
}

impl StatusDesk {
    /// The workshop's figures for a scrape, read now.
    fn sample(&self) -> metrics::WorkshopSample {
        let (journal, worker) = (&self.journal, &self.worker);
        let stats = journal.stats();
        let views = journal.views();
        let erp = ErpState::of(&views.health, self.own_login.as_deref());
        metrics::WorkshopSample {
            workshop: self.workshop.clone(),
            views: metrics::ViewFigures::of(&views),
            worker_running: worker.is_running(),
            worker_failing: worker.is_failing(),
            erp_up: erp.state == "up",
            browser_restarts: worker.browser_restarts.load(Ordering::Relaxed),
            panics: worker.panics.load(Ordering::Relaxed),
            log_bytes: stats.disk_bytes.load(Ordering::Relaxed),
            log_writable: journal.is_writable(),
            commits: stats.batches.load(Ordering::Relaxed),
            commit_seconds: stats.commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
            events: stats.events.load(Ordering::Relaxed),
            write_errors: stats.write_errors.load(Ordering::Relaxed),
            timings: worker.timings.clone(),
            probe: worker.probe.get(),
        }
    }
}
