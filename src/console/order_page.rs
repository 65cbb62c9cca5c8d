//! One order's page: every event with its time, attempt, reason, failure
//! kind and duration; the screenshot of each failed attempt inline and its
//! page source one click away; requeue while it is failed.

use std::path::Path;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::auth::{Console, Session};
use super::pages::{page, Page};
use super::{html_response, orders, root_of, segment, ConsoleError};
use crate::event_log::events::failure_kind;
use crate::event_log::{Event, EventKind, Status};
use crate::host::Host;
use crate::support::timestamp;
use crate::workshop::evidence;
use crate::workshop::status::GetEvents;

/// The file name of evidence saved under the workshop's `evidence/` folder,
/// from the path a `failed` event records (relative to the workshop folder).
pub fn evidence_file(recorded: &str) -> Option<&str> {
    let name = recorded.strip_prefix("evidence/")?;
    is_evidence_name(name).then_some(name)
}

/// A plain file name: letters, digits, `-`, `_`, `.`; not hidden; `.png` or `.html`.
pub fn is_evidence_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && (name.ends_with(".png") || name.ends_with(".html"))
}

/// The details column of one event.
fn details(event: &Event) -> (Option<u32>, String, Option<String>, Option<u64>) {
    match &event.kind {
        EventKind::Received { order, .. } => (
            None,
            format!(
                "case {}, item {}, {} l",
                order.case_id, order.product_nr, order.product_amount
            ),
            None,
            None,
        ),
        EventKind::BadRequest { reason } => (None, reason.clone(), None, None),
        EventKind::Processing { attempt, .. } => (Some(*attempt), String::new(), None, None),
        EventKind::Completed {
            attempt,
            already_present,
            duration_ms,
        } => (
            Some(*attempt),
            if *already_present {
                "the line was already on the case".into()
            } else {
                "line booked".into()
            },
            None,
            Some(*duration_ms),
        ),
        EventKind::Failed {
            reason,
            failure,
            is_final,
            attempt,
            duration_ms,
            ..
        } => (
            Some(*attempt),
            format!(
                "{reason} ({})",
                if *is_final {
                    "final"
                } else {
                    "will be retried"
                }
            ),
            Some(failure_kind(*failure, reason).as_str().to_string()),
            Some(*duration_ms),
        ),
        EventKind::RetryScheduled {
            next_attempt,
            at_ms,
        } => (
            Some(*next_attempt),
            format!("next attempt at {}", timestamp(*at_ms)),
            None,
            None,
        ),
        EventKind::Cleared { queue, .. } => (
            None,
            format!("cleared from the {} queue", queue.as_str()),
            None,
            None,
        ),
        EventKind::Requeued => (None, "put back on the task queue".into(), None, None),
        EventKind::OperatorAction { action, by } => (None, format!("{action} by {by}"), None, None),
        EventKind::SaveSubmitted { attempt } => (
            Some(*attempt),
            "save clicked; its outcome is not known yet".into(),
            None,
            None,
        ),
        EventKind::IntegrationDown { fault, login, .. } => {
            let who = login
                .as_deref()
                .map_or(String::new(), |l| format!(" (login {l})"));
            (None, format!("ERP down: {fault}{who}"), None, None)
        }
        EventKind::IntegrationUp { .. } => (None, "ERP up again".into(), None, None),
        EventKind::WorkerStarted { .. } | EventKind::WorkerStopped { .. } => {
            (None, String::new(), None, None)
        }
    }
}

fn trace_cell(console: &Console, trace_id: Option<&str>) -> Markup {
    html! {
        @if let Some(id) = trace_id {
            @if let Some(url) = console.config().trace_link(id) {
                a href=(url) rel="noreferrer" { code { (id) } }
            } @else {
                code { (id) }
            }
        }
    }
}

/// Why an evidence file is not there: pruned on a date the evidence folder
/// recorded, or gone without a record (pruned before pruning was recorded,
/// or removed by hand).
fn gone(dir: &Path, file: &str) -> String {
    match evidence::pruned_at(dir, file) {
        Some(ms) => format!("evidence pruned on {}.", timestamp(ms)),
        None => {
            "evidence no longer on disk (pruned before pruning was recorded, or removed by hand)."
                .into()
        }
    }
}

fn evidence_section(base: &str, dir: &Path, events: &[Event]) -> Markup {
    html! {
        @for event in events {
            @if let EventKind::Failed { attempt, reason, screenshot, page_source, .. } = &event.kind {
                section {
                    h2 { "Attempt " (attempt) " failed: " (reason) }
                    @match screenshot.as_deref().and_then(evidence_file) {
                        Some(file) if dir.join(file).is_file() => {
                            img.evidence src={ (base) "evidence/" (segment(file)) }
                                alt={ "Screenshot of the ERP when attempt " (attempt) " failed" };
                        }
                        Some(file) => { p.muted { "Screenshot: " (gone(dir, file)) } }
                        None => { p.muted { "No screenshot was saved." } }
                    }
                    @match page_source.as_deref().and_then(evidence_file) {
                        Some(file) if dir.join(file).is_file() => {
                            p { a href={ (base) "evidence/" (segment(file)) } { "Page source of attempt " (attempt) " (plain text)" } }
                        }
                        Some(file) => { p.muted { "Page source: " (gone(dir, file)) } }
                        None => {}
                    }
                }
            }
        }
    }
}

/// GET `w/{workshop}/o/{id}`.
pub async fn order(
    req: HttpRequest,
    host: web::Data<Host>,
    console: web::Data<Console>,
    session: Session,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (name, id) = path.into_inner();
    let root = root_of(req.path());
    let ws = host.workshop(&name).await?;
    let events = ws
        .actors
        .status
        .send(GetEvents(Some(id.clone())))
        .await
        .map_err(|e| ConsoleError::Unavailable(e.to_string()))?
        .map_err(|e| ConsoleError::Unavailable(e.to_string()))?;
    let Some(row) = orders::fold(&events).into_iter().next() else {
        return Err(ConsoleError::NotFound(format!("no order {id:?} in {name}")));
    };
    let base = format!("{root}w/{}/", segment(&name));
    let view = &row.view;
    let order = view.order.as_ref();
    let body = html! {
        h1 { "Order " (id) }
        p { a href=(root) { "All integrations" } " · " a href={ (root) "w/" (segment(&name)) } { "Workshop " (name) } }
        div #live {
            dl.facts {
                dt { "Workshop" } dd { (name) }
                dt { "Case" } dd { (order.map(|o| o.case_id.as_str()).unwrap_or("")) }
                dt { "Item" } dd { (order.map(|o| o.product_nr.as_str()).unwrap_or("")) }
                dt { "Litres" } dd { (order.map(|o| o.product_amount.as_str()).unwrap_or("")) }
                dt { "Status" } dd class={ "status-" (view.status.as_str().replace(' ', "-")) } { (view.status.as_str()) }
                dt { "Reason" } dd { (view.reason.as_deref().unwrap_or("")) }
                dt { "Attempts" } dd { (view.attempt) }
                dt { "Trace" } dd { (trace_cell(&console, view.trace_id.as_deref())) }
            }
            @if view.status == Status::Failed {
                form method="post" action={ (base) "o/" (segment(&id)) "/requeue" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Requeue this order" }
                }
            }
            h2 { "Events" }
            table {
                thead { tr {
                    th scope="col" { "#" } th scope="col" { "Time (UTC)" } th scope="col" { "Event" }
                    th scope="col" { "Attempt" } th scope="col" { "Details" } th scope="col" { "Failure kind" }
                    th scope="col" { "Duration" } th scope="col" { "Since previous" } th scope="col" { "Trace" }
                } }
                tbody {
                    @for (i, event) in events.iter().enumerate() {
                        @let (attempt, text, kind, duration) = details(event);
                        @let since = i.checked_sub(1).map(|p| event.ts_ms.saturating_sub(events[p].ts_ms));
                        tr {
                            td.num { (event.seq) }
                            td { (timestamp(event.ts_ms)) }
                            td { (event.kind.name()) }
                            td.num { @if let Some(a) = attempt { (a) } }
                            td { (text) }
                            td { @if let Some(k) = kind { code { (k) } } }
                            td.num { @if let Some(ms) = duration { (ms) " ms" } }
                            td.num { @if let Some(ms) = since { (ms) " ms" } }
                            td { (trace_cell(&console, event.trace_id.as_deref())) }
                        }
                    }
                }
            }
        }
        (evidence_section(&base, &ws.settings.evidence_dir(), &events))
    };
    let title = format!("Order {id}");
    let p = Page {
        title: &title,
        root: &root,
        session: Some(&session),
    };
    Ok(html_response(StatusCode::OK, page(p, body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_evidence_names_pass() {
        assert_eq!(
            evidence_file("evidence/a-attempt1.png"),
            Some("a-attempt1.png")
        );
        assert_eq!(
            evidence_file("evidence/a-attempt1.html"),
            Some("a-attempt1.html")
        );
        assert_eq!(evidence_file("evidence/../oilmat.toml"), None);
        assert_eq!(evidence_file("evidence/../x.png"), None);
        assert_eq!(evidence_file("other/a.png"), None);
        assert!(!is_evidence_name(".hidden.png"));
        assert!(!is_evidence_name("a.txt"));
        assert!(!is_evidence_name("..%2Fa.png"));
    }
}
