//! Status: answers from the durable views (what has been fsync'd): an order's
//! status, the queues, whether the worker runs, and the metrics.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::{json, Value};

use super::worker::WorkerState;
use crate::event_log::{Journal, OrderView, QueueKind, Status};
use crate::telemetry::metrics;

/// The status actor of one workshop.
pub struct StatusDesk {
    journal: Journal,
    worker: Arc<WorkerState>,
    workshop: String,
}

impl StatusDesk {
    /// A desk reading `journal`'s views and the worker's state.
    pub fn new(journal: Journal, worker: Arc<WorkerState>, workshop: String) -> Self {
        StatusDesk {
            journal,
            worker,
            workshop,
        }
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
}

impl Handler<GetStatus> for StatusDesk {
    type Result = Option<(Status, Option<String>)>;

    fn handle(&mut self, msg: GetStatus, _: &mut Self::Context) -> Self::Result {
        let views = self.journal.views();
        views.order(&msg.0).map(|o| (o.status, o.reason.clone()))
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
        metrics::render(&[sample(&self.workshop, &self.journal, &self.worker)])
    }
}

impl Handler<TakeSample> for StatusDesk {
    type Result = MessageResult<TakeSample>;

    fn handle(&mut self, _: TakeSample, _: &mut Self::Context) -> Self::Result {
        MessageResult(sample(&self.workshop, &self.journal, &self.worker))
    }
}

impl Handler<GetEvents> for StatusDesk {
    type Result = ResponseFuture<crate::event_log::Result<Vec<crate::event_log::Event>>>;

    fn handle(&mut self, msg: GetEvents, _: &mut Self::Context) -> Self::Result {
        let journal = self.journal.clone();
        Box::pin(async move { journal.events(msg.0).await })
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
        })
    }
}

/// The workshop's figures for a scrape, read now.
fn sample(workshop: &str, journal: &Journal, worker: &WorkerState) -> metrics::WorkshopSample {
    let stats = journal.stats();
    metrics::WorkshopSample {
        workshop: workshop.to_string(),
        views: metrics::ViewFigures::of(&journal.views()),
        worker_running: worker.is_running(),
        worker_failing: worker.is_failing(),
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
