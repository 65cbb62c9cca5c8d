//! Per-step browser durations without the drivers knowing: a tracing layer
//! times the driver's step spans (`login`, `open case`, `check reference`,
//! ...) from creation to close and records them, labelled by the workshop
//! of the attempt they belong to, in `oilmat_browser_step_duration_seconds`.
//! End-to-end order durations (received to final) are recorded here too.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use prometheus::proto::MetricFamily;
use prometheus::{core::Collector, HistogramOpts, HistogramVec};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The driver spans that are browser steps.
pub const STEPS: [&str; 8] = [
    "login",
    "open case",
    "open lines",
    "check reference",
    "add line",
    "item lookup",
    "confirm",
    "book_line",
];

fn histogram(name: &str, help: &str, label: &str, buckets: Vec<f64>) -> Option<HistogramVec> {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets),
        &["workshop", label],
    )
    .ok()
}

fn step_histogram() -> Option<&'static HistogramVec> {
    static STEP: OnceLock<Option<HistogramVec>> = OnceLock::new();
    STEP.get_or_init(|| {
        histogram(
            "oilmat_browser_step_duration_seconds",
            "Duration of one browser step of an attempt (book_line is the whole ERP flow).",
            "step",
            vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0],
        )
    })
    .as_ref()
}

fn order_histogram() -> Option<&'static HistogramVec> {
    static ORDER: OnceLock<Option<HistogramVec>> = OnceLock::new();
    ORDER
        .get_or_init(|| {
            histogram(
                "oilmat_order_duration_seconds",
                "Time from an order's receipt to its final status, by outcome.",
                "outcome",
                vec![0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0],
            )
        })
        .as_ref()
}

/// Records an order that reached its final status `outcome` after `elapsed`.
pub fn observe_order(workshop: &str, outcome: &str, elapsed: Duration) {
    if let Some(h) = order_histogram() {
        h.with_label_values(&[workshop, outcome])
            .observe(elapsed.as_secs_f64());
    }
}

/// The step and order histograms, with only these workshops' series.
pub fn families(workshops: &[&str]) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    for h in [step_histogram(), order_histogram()].into_iter().flatten() {
        for mut family in h.collect() {
            let metrics: Vec<_> = family
                .take_metric()
                .into_iter()
                .filter(|m| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == "workshop" && workshops.contains(&l.value()))
                })
                .collect();
            if !metrics.is_empty() {
                family.set_metric(metrics);
                out.push(family);
            }
        }
    }
    out
}

struct Workshop(String);
struct Started(Instant);

#[derive(Default)]
struct WorkshopField(Option<String>);

impl Visit for WorkshopField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "workshop" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "workshop" {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_string());
        }
    }
}

/// The layer that times step spans.
pub struct StepTimings;

impl<S> Layer<S> for StepTimings
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut field = WorkshopField::default();
        attrs.record(&mut field);
        let workshop = field.0.or_else(|| {
            span.parent()
                .and_then(|p| p.extensions().get::<Workshop>().map(|w| w.0.clone()))
        });
        let mut extensions = span.extensions_mut();
        if let Some(w) = workshop {
            extensions.insert(Workshop(w));
        }
        if STEPS.contains(&span.name()) {
            extensions.insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let extensions = span.extensions();
        let (Some(started), Some(workshop), Some(h)) = (
            extensions.get::<Started>(),
            extensions.get::<Workshop>(),
            step_histogram(),
        ) else {
            return;
        };
        h.with_label_values(&[workshop.0.as_str(), span.name()])
            .observe(started.0.elapsed().as_secs_f64());
    }
}
