//! Support tools: `events` prints a workshop's log, `replay` rebuilds the
//! views from the log alone. Both read a live log from a snapshot copy (the
//! running service holds the folder's lock) and a stopped one directly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::DateTime;

use crate::cli::{EventsArgs, ReplayArgs};
use crate::event_log::store::{FolderLock, Store};
use crate::event_log::{Error as LogError, Event, EventKind, QueueKind, Views};

/// Reads every event of a workshop's log, from a snapshot if the service runs.
pub fn read_log(data_dir: &Path, workshop: &str) -> anyhow::Result<Vec<Event>> {
    crate::workshop::validate_name(workshop).map_err(anyhow::Error::msg)?;
    let dir = data_dir.join(workshop);
    if !dir.join("log").is_dir() {
        bail!(
            "no event log for workshop {workshop:?} under {}",
            data_dir.display()
        );
    }
    match FolderLock::acquire(&dir) {
        Ok(_lock) => read_store(&dir.join("log")),
        Err(LogError::Locked(_)) => read_snapshot(&dir.join("log")),
        Err(e) => Err(e.into()),
    }
}

fn read_store(log_dir: &Path) -> anyhow::Result<Vec<Event>> {
    let store = Store::open(log_dir)?;
    let events = store.events_from(0).collect::<Result<Vec<_>, _>>()?;
    Ok(events)
}

/// Copies a live log aside and reads the copy (fjall recovers a torn tail).
fn read_snapshot(log_dir: &Path) -> anyhow::Result<Vec<Event>> {
    let copy = std::env::temp_dir().join(format!(
        "oilmat-snapshot-{}-{}",
        std::process::id(),
        crate::workshop::new_trace_id()
    ));
    copy_dir(log_dir, &copy).with_context(|| format!("cannot snapshot {}", log_dir.display()))?;
    let events = read_store(&copy);
    let _ = std::fs::remove_dir_all(&copy);
    events
}

fn copy_dir(from: &Path, to: &PathBuf) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// An event's time as RFC 3339.
pub fn timestamp(ms: u64) -> String {
    crate::event_log::events::rfc3339(ms)
}

/// One event as a line of text.
pub fn describe(event: &Event) -> String {
    let id = event
        .unique_id
        .as_deref()
        .map(|id| format!(" id={id}"))
        .unwrap_or_default();
    let detail = match &event.kind {
        EventKind::Received { order, .. } => format!(
            "case={} item={} amount={}",
            order.case_id, order.product_nr, order.product_amount
        ),
        EventKind::BadRequest { reason } => format!("reason={reason:?}"),
        EventKind::Processing { attempt, may_add } => {
            let look = if *may_add { "" } else { " (look only)" };
            format!("attempt={attempt}{look}")
        }
        EventKind::SaveSubmitted { attempt } => format!("attempt={attempt}"),
        EventKind::Completed {
            attempt,
            already_present,
            duration_ms,
        } => format!(
            "attempt={attempt} {} in {duration_ms} ms",
            if *already_present {
                "already on the case"
            } else {
                "line added"
            }
        ),
        EventKind::Failed {
            reason,
            failure,
            is_final,
            attempt,
            screenshot,
            page_source,
            duration_ms,
            ..
        } => {
            let mut s = format!(
                "attempt={attempt} {} kind={} reason={reason:?} after {duration_ms} ms",
                if *is_final { "final" } else { "retryable" },
                crate::event_log::events::failure_kind(*failure, reason)
            );
            for path in [screenshot, page_source].into_iter().flatten() {
                s.push_str(&format!(" evidence={path}"));
            }
            s
        }
        EventKind::RetryScheduled {
            next_attempt,
            at_ms,
        } => {
            format!("attempt {next_attempt} at {}", timestamp(*at_ms))
        }
        EventKind::Cleared { queue, .. } => format!("from the {} queue", queue.as_str()),
        EventKind::WorkerStarted { by_operator } | EventKind::WorkerStopped { by_operator } => {
            if *by_operator {
                "by an operator".into()
            } else {
                String::new()
            }
        }
        EventKind::Requeued => String::new(),
        EventKind::IntegrationDown {
            fault,
            since_ms,
            login,
        } => {
            let who = login
                .as_deref()
                .map_or(String::new(), |l| format!(" login={l:?}"));
            format!("fault={fault:?} since {}{who}", timestamp(*since_ms))
        }
        EventKind::IntegrationUp { login } => login
            .as_deref()
            .map_or(String::new(), |l| format!("login={l:?}")),
        EventKind::OperatorAction { action, by } => format!("{action} by {by}"),
    };
    let trace = event
        .trace_id
        .as_deref()
        .map(|t| format!(" trace={t}"))
        .unwrap_or_default();
    format!(
        "#{:<6} {} {:<16}{id} {detail}{trace}",
        event.seq,
        timestamp(event.ts_ms),
        event.kind.name()
    )
}

struct EventFilter {
    unique_id: Option<String>,
    since_ms: Option<u64>,
    status: Option<String>,
}

impl EventFilter {
    fn from_args(args: &EventsArgs) -> anyhow::Result<EventFilter> {
        let since_ms = match &args.since {
            Some(text) => Some(
                DateTime::parse_from_rfc3339(text)
                    .with_context(|| {
                        format!("--since {text:?}: expected RFC 3339, e.g. 2026-11-28T10:00:00Z")
                    })?
                    .timestamp_millis()
                    .max(0) as u64,
            ),
            None => None,
        };
        let statuses = [
            "received",
            "processing",
            "completed",
            "bad request",
            "failed",
        ];
        if let Some(s) = &args.status {
            if !statuses.contains(&s.as_str()) {
                bail!("--status {s:?}: expected one of {}", statuses.join(", "));
            }
        }
        Ok(EventFilter {
            unique_id: args.unique_id.clone(),
            since_ms,
            status: args.status.clone(),
        })
    }

    fn keeps(&self, event: &Event, views: &Views) -> bool {
        let id = event.unique_id.as_deref();
        self.unique_id
            .as_deref()
            .is_none_or(|want| id == Some(want))
            && self.since_ms.is_none_or(|since| event.ts_ms >= since)
            && self.status.as_deref().is_none_or(|want| {
                id.and_then(|id| views.order(id))
                    .is_some_and(|o| o.status.as_str() == want)
            })
    }
}

/// `oilmat-erp events`.
pub fn events(args: EventsArgs) -> anyhow::Result<()> {
    let filter = EventFilter::from_args(&args)?;
    let mut printed = 0u64;
    loop {
        let all = read_log(&args.data.data_dir, &args.workshop)?;
        let views = Views::from_events(&all);
        for event in all.iter().filter(|e| e.seq > printed) {
            if filter.keeps(event, &views) {
                if args.json {
                    println!("{}", serde_json::to_string(event)?);
                } else {
                    println!("{}", describe(event));
                }
            }
        }
        printed = views.last_seq.max(printed);
        if !args.follow {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `oilmat-erp replay`.
pub fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let events = read_log(&args.data.data_dir, &args.workshop)?;
    let views = Views::from_events(&events);
    match &args.unique_id {
        Some(id) => print_timeline(
            &args.data.data_dir.join(&args.workshop),
            id,
            &events,
            &views,
        ),
        None => {
            print_summary(&args.workshop, &views);
            Ok(())
        }
    }
}

fn print_summary(workshop: &str, views: &Views) {
    let c = &views.counters;
    println!(
        "workshop {workshop}: {} events, {} orders",
        views.last_seq,
        views.order_count()
    );
    println!(
        "  received {}  completed {}  failed {}  bad requests {}  cleared {}  attempts {} (retries {})",
        c.received, c.completed, c.failed, c.bad_requests, c.cleared, c.attempts, c.retries
    );
    println!(
        "  worker: {}",
        if views.worker_wanted {
            "runs at start"
        } else {
            "stopped by an operator"
        }
    );
    for kind in [QueueKind::Task, QueueKind::Error] {
        println!("{} queue ({}):", kind.as_str(), views.queue_len(kind));
        for o in views.queue(kind) {
            let reason = o
                .reason
                .as_deref()
                .map(|r| format!(" reason={r:?}"))
                .unwrap_or_default();
            println!(
                "  {} {} attempt={}{reason}",
                o.unique_id,
                o.status.as_str(),
                o.attempt
            );
        }
    }
}

fn print_timeline(dir: &Path, id: &str, events: &[Event], views: &Views) -> anyhow::Result<()> {
    let Some(order) = views.order(id) else {
        bail!("no order with unique_id {id:?} in this log");
    };
    println!(
        "order {id}: {}{}",
        order.status.as_str(),
        order
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| e.unique_id.as_deref() == Some(id))
        .collect();
    // Completed orders keep no details in the views: the events have the trace.
    let trace = mine
        .iter()
        .find_map(|e| e.trace_id.clone())
        .or(order.trace_id.clone());
    if let Some(trace) = trace {
        println!("trace id: {trace}");
    }
    let first = mine.first().map_or(0, |e| e.ts_ms);
    for event in &mine {
        println!(
            "  +{:>8.3}s {}",
            event.ts_ms.saturating_sub(first) as f64 / 1000.0,
            describe(event)
        );
        if let EventKind::Failed {
            screenshot,
            page_source,
            ..
        } = &event.kind
        {
            for path in [screenshot, page_source].into_iter().flatten() {
                let exists = if dir.join(path).is_file() {
                    "present"
                } else {
                    "missing"
                };
                println!(
                    "              evidence {} ({exists})",
                    dir.join(path).display()
                );
            }
        }
    }
    if let (Some(a), Some(b)) = (mine.first(), mine.last()) {
        println!(
            "  total {:.3} s over {} events",
            b.ts_ms.saturating_sub(a.ts_ms) as f64 / 1000.0,
            mine.len()
        );
    }
    Ok(())
}

/// `oilmat-erp requeue`: through the running service's API, or on a stopped log.
pub fn requeue(args: crate::cli::RequeueArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = match &args.url {
        Some(url) => runtime.block_on(requeue_remote(url, args.unique_id.as_deref()))?,
        None => runtime.block_on(requeue_local(&args))?,
    };
    println!("requeued {count} order(s) in {}", args.workshop);
    Ok(())
}

async fn requeue_remote(url: &str, unique_id: Option<&str>) -> anyhow::Result<u64> {
    let mut request = reqwest::Client::new().put(format!("{}/requeue", url.trim_end_matches('/')));
    if let Some(id) = unique_id {
        request = request.query(&[("unique_id", id)]);
    }
    if let Ok(token) = std::env::var(crate::http::auth::ADMIN_TOKEN_ENV) {
        request = request.bearer_auth(token);
    }
    let answer = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{url} answered {status}: {body}");
    }
    Ok(body["requeued"].as_u64().unwrap_or(0))
}

async fn requeue_local(args: &crate::cli::RequeueArgs) -> anyhow::Result<u64> {
    crate::workshop::validate_name(&args.workshop).map_err(anyhow::Error::msg)?;
    let dir = args.data.data_dir.join(&args.workshop);
    if !dir.join("log").is_dir() {
        bail!(
            "no event log for workshop {:?} under {}",
            args.workshop,
            args.data.data_dir.display()
        );
    }
    let journal = match crate::event_log::Journal::open(&dir) {
        Ok(journal) => journal,
        Err(LogError::Locked(_)) => bail!(
            "{} runs: pass --url of its API (or use the management API's POST /integrations/{}/requeue)",
            args.workshop,
            args.workshop
        ),
        Err(e) => return Err(e.into()),
    };
    let command = crate::event_log::Command::Requeue {
        unique_id: args.unique_id.clone(),
    };
    let executed = journal.execute(command).await?;
    journal.close().await;
    match executed {
        Ok(events) => Ok(events.len() as u64),
        Err(refusal) => bail!("nothing requeued: {refusal}"),
    }
}
