//! Prometheus metrics, rendered at scrape time from the views (so counters
//! are derived from the log and survive restarts), the journal's append
//! figures and the worker's state. Base units, `_total` counters, `_seconds`
//! histograms, labelled by `workshop`; no order ids as labels.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    CounterVec, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::event_log::views::FAILURE_CLASSES;
use crate::event_log::{events::now_ms, QueueKind, Status, Views};

/// Browser attempt durations, by outcome.
#[derive(Debug, Clone)]
pub struct AttemptTimings {
    hist: HistogramVec,
}

impl Default for AttemptTimings {
    fn default() -> Self {
        let opts = HistogramOpts::new(
            "oilmat_attempt_duration_seconds",
            "Duration of one browser attempt to book an order line, by outcome.",
        )
        .buckets(vec![0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0]);
        let hist = HistogramVec::new(opts, &["workshop", "outcome"])
            .unwrap_or_else(|_| unreachable_hist());
        AttemptTimings { hist }
    }
}

fn unreachable_hist() -> HistogramVec {
    // The options above are valid; this keeps the code panic-free regardless.
    HistogramVec::new(
        HistogramOpts::new("oilmat_invalid", "invalid"),
        &["workshop", "outcome"],
    )
    .unwrap_or_else(|_| std::process::abort())
}

impl AttemptTimings {
    /// Records one attempt of `workshop`.
    pub fn observe(&self, workshop: &str, outcome: &str, elapsed: Duration) {
        self.hist
            .with_label_values(&[workshop, outcome])
            .observe(elapsed.as_secs_f64());
    }
}

/// How the last synthetic check went.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    /// It logged in and the case showed.
    pub ok: bool,
    /// When it finished (ms since epoch).
    pub at_ms: u64,
    /// How long it took.
    pub duration: Duration,
    /// Why it failed.
    pub error: Option<String>,
}

/// What one workshop contributes to a scrape: plain figures the workshop
/// hands over (telemetry reads nothing of the workshop itself).
pub struct WorkshopSample {
    /// The workshop's name (the `workshop` label).
    pub workshop: String,
    /// Figures folded from the log.
    pub views: ViewFigures,
    /// The worker is wanted and alive.
    pub worker_running: bool,
    /// The worker's last attempts failed.
    pub worker_failing: bool,
    /// The ERP is up (design.md rule 6).
    pub erp_up: bool,
    /// Browser sessions started again after the first.
    pub browser_restarts: u64,
    /// Attempts that panicked.
    pub panics: u64,
    /// Size of the log on disk.
    pub log_bytes: u64,
    /// The log accepts writes.
    pub log_writable: bool,
    /// Group commits.
    pub commits: u64,
    /// Time spent committing.
    pub commit_seconds: f64,
    /// Events appended.
    pub events: u64,
    /// Failed log writes.
    pub write_errors: u64,
    /// Attempt durations.
    pub timings: AttemptTimings,
    /// The last synthetic check, if one ran.
    pub probe: Option<ProbeOutcome>,
}

/// The figures a scrape takes from a workshop's views.
pub struct ViewFigures {
    counters: crate::event_log::views::Counters,
    task: usize,
    error: usize,
    oldest_waiting_age: f64,
    last_completed: Option<u64>,
    outages: u64,
    bad_requests_retained: usize,
}

impl ViewFigures {
    /// Reads them off the views now.
    pub fn of(views: &Views) -> ViewFigures {
        let now = now_ms();
        let oldest = views
            .queue(QueueKind::Task)
            .filter(|o| matches!(o.status, Status::Received | Status::Processing))
            .map(|o| o.received_ms)
            .min();
        ViewFigures {
            counters: views.counters.clone(),
            task: views.queue_len(QueueKind::Task),
            error: views.queue_len(QueueKind::Error),
            oldest_waiting_age: oldest.map_or(0.0, |t| now.saturating_sub(t) as f64 / 1000.0),
            last_completed: views.last_completed_ms,
            outages: views.health.outages,
            bad_requests_retained: views.bad_requests.len(),
        }
    }
}

/// A metric family and how to read its value from a workshop's sample.
type Family<M, T> = (M, fn(&WorkshopSample) -> T);

struct Families {
    counters: Vec<Family<IntCounterVec, u64>>,
    seconds: Vec<Family<CounterVec, f64>>,
    gauges: Vec<Family<GaugeVec, f64>>,
    queue_depth: IntGaugeVec,
    failed: IntCounterVec,
    /// Only for workshops whose probe has run (absent otherwise, so a
    /// workshop without a probe never looks like a failing one).
    probe: Vec<Family<GaugeVec, f64>>,
}

fn counter(
    name: &str,
    help: &str,
    read: fn(&WorkshopSample) -> u64,
) -> Option<Family<IntCounterVec, u64>> {
    IntCounterVec::new(Opts::new(name, help), &["workshop"])
        .ok()
        .map(|c| (c, read))
}

fn seconds_counter(
    name: &str,
    help: &str,
    read: fn(&WorkshopSample) -> f64,
) -> Option<Family<CounterVec, f64>> {
    CounterVec::new(Opts::new(name, help), &["workshop"])
        .ok()
        .map(|c| (c, read))
}

fn gauge(
    name: &str,
    help: &str,
    read: fn(&WorkshopSample) -> f64,
) -> Option<Family<GaugeVec, f64>> {
    GaugeVec::new(Opts::new(name, help), &["workshop"])
        .ok()
        .map(|g| (g, read))
}

fn families() -> Option<Families> {
    let counters = vec![
        counter(
            "oilmat_orders_received_total",
            "Orders accepted and made durable.",
            |s| s.views.counters.received,
        )?,
        counter(
            "oilmat_orders_bad_request_total",
            "Create requests refused for bad input.",
            |s| s.views.counters.bad_requests,
        )?,
        counter(
            "oilmat_orders_completed_total",
            "Orders whose line is on the case.",
            |s| s.views.counters.completed,
        )?,
        counter(
            "oilmat_orders_already_present_total",
            "Completed orders whose line was found already on the case.",
            |s| s.views.counters.completed_already_present,
        )?,
        counter(
            "oilmat_orders_cleared_total",
            "Orders cleared from a queue by an operator.",
            |s| s.views.counters.cleared,
        )?,
        counter(
            "oilmat_orders_requeued_total",
            "Orders put back on the task queue.",
            |s| s.views.counters.requeued,
        )?,
        counter("oilmat_attempts_total", "Browser attempts started.", |s| {
            s.views.counters.attempts
        })?,
        counter(
            "oilmat_retries_total",
            "Attempts after the first of an order.",
            |s| s.views.counters.retries,
        )?,
        counter(
            "oilmat_integration_outages_total",
            "Times the ERP (or a login on it) went down (derived from the log).",
            |s| s.views.outages,
        )?,
        counter(
            "oilmat_browser_restarts_total",
            "Browser sessions replaced after a failure or a panic (since start).",
            |s| s.browser_restarts,
        )?,
        counter(
            "oilmat_worker_panics_total",
            "Attempts that panicked (since start).",
            |s| s.panics,
        )?,
        counter(
            "oilmat_event_log_commits_total",
            "Group commits (one fsync each) since start.",
            |s| s.commits,
        )?,
        counter(
            "oilmat_event_log_events_total",
            "Events appended since start.",
            |s| s.events,
        )?,
        counter(
            "oilmat_event_log_write_errors_total",
            "Failed appends or reopen attempts since start.",
            |s| s.write_errors,
        )?,
    ];
    let seconds = vec![seconds_counter(
        "oilmat_event_log_commit_seconds_total",
        "Time spent in group commits (append latency) since start.",
        |s| s.commit_seconds,
    )?];
    let gauges = vec![
        gauge(
            "oilmat_event_log_size_bytes",
            "Bytes the event log takes on disk.",
            |s| s.log_bytes as f64,
        )?,
        gauge(
            "oilmat_event_log_writable",
            "1 while the event log can be written.",
            |s| f64::from(u8::from(s.log_writable)),
        )?,
        gauge(
            "oilmat_worker_running",
            "1 while the browser worker takes orders.",
            |s| f64::from(u8::from(s.worker_running)),
        )?,
        gauge(
            "oilmat_integration_up",
            "1 while the ERP is reachable and accepts the integration's login; 0 while it is down.",
            |s| f64::from(u8::from(s.erp_up)),
        )?,
        gauge(
            "oilmat_worker_failing",
            "1 while the worker's recent attempts keep failing for non-order reasons.",
            |s| f64::from(u8::from(s.worker_failing)),
        )?,
        gauge(
            "oilmat_oldest_waiting_order_age_seconds",
            "Age of the oldest order on the task queue.",
            |s| s.views.oldest_waiting_age,
        )?,
        gauge(
            "oilmat_bad_requests_retained",
            "Ids that were only ever bad requests, kept for /check_order_status (at most bad_requests_kept).",
            |s| s.views.bad_requests_retained as f64,
        )?,
        gauge(
            "oilmat_last_completed_timestamp_seconds",
            "When an order last completed (Unix time, 0 never).",
            |s| s.views.last_completed.map_or(0.0, |t| t as f64 / 1000.0),
        )?,
    ];
    let queue_depth = IntGaugeVec::new(
        Opts::new(
            "oilmat_queue_depth",
            "Orders on a queue (task: waiting or in progress; error: failed).",
        ),
        &["workshop", "queue"],
    )
    .ok()?;
    let failed = IntCounterVec::new(
        Opts::new(
            "oilmat_orders_failed_total",
            "Orders failed for good, by class of reason (login_failed, unknown_item, \
             unknown_case, closed_case, bad_input, retries_exhausted, other).",
        ),
        &["workshop", "reason"],
    )
    .ok()?;
    Some(Families {
        counters,
        seconds,
        gauges,
        queue_depth,
        failed,
        probe: probe_gauges()?,
    })
}

/// The synthetic check's gauges, read from the last probe.
fn probe_gauges() -> Option<Vec<Family<GaugeVec, f64>>> {
    Some(vec![
        gauge(
            "oilmat_probe_success",
            "1 if the last synthetic check logged in and opened the probe case, else 0.",
            |s| s.probe.as_ref().map_or(0.0, |p| f64::from(u8::from(p.ok))),
        )?,
        gauge(
            "oilmat_probe_last_run_timestamp_seconds",
            "When the last synthetic check finished (Unix time).",
            |s| s.probe.as_ref().map_or(0.0, |p| p.at_ms as f64 / 1000.0),
        )?,
        gauge(
            "oilmat_probe_duration_seconds",
            "How long the last synthetic check took.",
            |s| s.probe.as_ref().map_or(0.0, |p| p.duration.as_secs_f64()),
        )?,
    ])
}

impl Families {
    /// Sets every family's series of one workshop.
    fn fill(&self, s: &WorkshopSample) {
        for (c, read) in &self.counters {
            c.with_label_values(&[&s.workshop]).inc_by(read(s));
        }
        for (c, read) in &self.seconds {
            c.with_label_values(&[&s.workshop]).inc_by(read(s).max(0.0));
        }
        for (g, read) in &self.gauges {
            g.with_label_values(&[&s.workshop]).set(read(s));
        }
        if s.probe.is_some() {
            for (g, read) in &self.probe {
                g.with_label_values(&[&s.workshop]).set(read(s));
            }
        }
        for (queue, depth) in [("task", s.views.task), ("error", s.views.error)] {
            self.queue_depth
                .with_label_values(&[&s.workshop, queue])
                .set(depth as i64);
        }
        let by_class = &s.views.counters.failed_by_class;
        for class in FAILURE_CLASSES {
            let n = by_class.get(class).copied().unwrap_or(0);
            self.failed
                .with_label_values(&[&s.workshop, class])
                .inc_by(n);
        }
    }

    /// Registers every family.
    fn register(self, registry: &Registry) {
        for (c, _) in self.counters {
            let _ = registry.register(Box::new(c));
        }
        for (c, _) in self.seconds {
            let _ = registry.register(Box::new(c));
        }
        for (g, _) in self.gauges.into_iter().chain(self.probe) {
            let _ = registry.register(Box::new(g));
        }
        let _ = registry.register(Box::new(self.queue_depth));
        let _ = registry.register(Box::new(self.failed));
    }
}

/// The attempt-duration histograms of every workshop as one family (each
/// workshop keeps its own; a registry takes a name only once).
fn attempt_histograms(samples: &[WorkshopSample]) -> Option<MetricFamily> {
    for s in samples {
        // Both outcomes exist from the start, at zero, so rates are defined.
        for outcome in ["completed", "failed"] {
            let _ = s.timings.hist.with_label_values(&[&s.workshop, outcome]);
        }
    }
    let mut merged: Option<MetricFamily> = None;
    for family in samples.iter().flat_map(|s| s.timings.hist.collect()) {
        match merged.as_mut() {
            None => merged = Some(family),
            Some(all) => all.mut_metric().extend(family.get_metric().iter().cloned()),
        }
    }
    merged.filter(|f| !f.get_metric().is_empty())
}

/// The Prometheus text for these workshops.
pub fn render(samples: &[WorkshopSample]) -> String {
    let Some(f) = families() else {
        return String::new();
    };
    let registry = Registry::new();
    for s in samples {
        f.fill(s);
    }
    f.register(&registry);
    let mut families = registry.gather();
    families.extend(attempt_histograms(samples));
    let names: Vec<&str> = samples.iter().map(|s| s.workshop.as_str()).collect();
    families.extend(super::steps::families(&names));
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&families, &mut out);
    String::from_utf8(out).unwrap_or_default()
}
