//! The console's layout and its list pages: the integrations, one
//! workshop's orders, the search by unique id, and the "off" page.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::auth::{Console, Role, Session};
use super::orders::{self, Filter, OrderPage, OrderRow};
use super::outages;
use super::{html_response, root_of, segment, ConsoleError};
use crate::event_log::events::now_ms;
use crate::host::{Host, HostError};
use crate::support::timestamp;
use crate::workshop::status::{GetHealthEvents, GetOperatorActions, GetOrderPage, GetOrderRow};

/// Orders shown per page.
const PER_PAGE: usize = 50;

/// What every page knows about itself.
pub struct Page<'a> {
    /// The page's title.
    pub title: &'a str,
    /// The relative way back to the console's root (`./`, `../`, ...).
    pub root: &'a str,
    /// The signed-in session, if any.
    pub session: Option<&'a Session>,
}

/// A whole HTML document around `body`.
pub fn page(p: Page<'_>, body: Markup) -> Markup {
    let root = p.root;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (p.title) " · OilMat support console" }
                link rel="stylesheet" href={ (root) "static/console.css" };
                link rel="icon" type="image/svg+xml" href={ (root) "static/favicon.svg" };
                script src={ (root) "static/console.js" } defer {}
            }
            body {
                header.top {
                    a.brand href=(root) { "OilMat support console" }
                    @if let Some(s) = p.session {
                        form role="search" method="get" action={ (root) "search" } {
                            label for="search-id" { "Order by unique id" }
                            input #search-id type="search" name="unique_id" required;
                            button type="submit" { "Find" }
                        }
                        span.who { "Signed in: " (s.role.as_str()) }
                        form method="post" action={ (root) "signout" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button.secondary type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The page every console path answers while no token is configured.
pub fn off_page(root: &str) -> Markup {
    let body = html! {
        h1 { "The support console is off" }
        p { "No access token is configured, so the console does not open." }
        p {
            "To turn it on, start " code { "oilmat-erp serve" } " with "
            code { "OILMAT_ADMIN_TOKEN" } " (everything) and optionally "
            code { "OILMAT_SUPPORT_TOKEN" } " (reading and requeueing only) set in its environment, "
            "then sign in here with one of them."
        }
    };
    page(
        Page {
            title: "Console off",
            root,
            session: None,
        },
        body,
    )
}

/// One row of the overview, read from its JSON (an unresponsive workshop
/// has only its name and `state`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Row {
    workshop: String,
    erp_type: Option<String>,
    active: Option<bool>,
    api: String,
    worker: String,
    state: Option<String>,
    queue: QueueRow,
    last_completed_at: Option<String>,
    last_error: Option<String>,
    erp: Option<serde_json::Value>,
}

/// The queue lengths of a row.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueueRow {
    task: usize,
    error: usize,
}

impl Row {
    /// Its workshop runs (a stopped or inactive one has no ERP health).
    fn is_running(&self) -> bool {
        self.erp.as_ref().is_some_and(|e| e.is_object()) || self.state.is_some()
    }

    fn of(value: &serde_json::Value) -> Row {
        let mut row: Row = serde_json::from_value(value.clone()).unwrap_or_default();
        if let Some(state) = row.state.clone() {
            row.api = state.clone();
            row.worker = state;
        }
        row
    }
}

/// The `erp` health object of an overview row, when it has one.
fn erp_health(row: &Row) -> Markup {
    let Some(erp) = row.erp.as_ref().filter(|e| e.is_object()) else {
        let why = match (&row.state, row.active) {
            (Some(state), _) => state.as_str(),
            (None, Some(false)) => "not checked: inactive",
            (None, _) => "not checked: not running",
        };
        return html! { span.muted { (why) } };
    };
    let text = |key: &str| erp.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let state = text("state").unwrap_or_else(|| "unknown".into());
    html! {
        span class={ "state-" (state) } { (state) }
        @if let Some(fault) = text("fault") { ": " (fault) }
        @if let Some(since) = text("since") { " since " (since) }
    }
}

fn start_stop_form(root: &str, workshop: &str, part: &str, running: bool, csrf: &str) -> Markup {
    let (action, label) = if running {
        ("stop", "Stop")
    } else {
        ("start", "Start")
    };
    let what = if part == "api" { "API" } else { "worker" };
    html! {
        form.inline method="post" action={ (root) "w/" (segment(workshop)) "/" (part) "/" (action) } {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" aria-label={ (label) " " (what) " of " (workshop) } { (label) " " (what) }
        }
    }
}

/// The control cell of a row (admin only): start or stop the API and the
/// worker of a running workshop; start a stopped one (its API and worker).
fn controls(root: &str, row: &Row, csrf: &str) -> Markup {
    let name = &row.workshop;
    html! {
        @if row.is_running() {
            (start_stop_form(root, name, "api", row.api == "running", csrf))
            " "
            (start_stop_form(root, name, "worker", row.worker != "stopped", csrf))
        } @else if row.active == Some(false) {
            span.muted { "inactive (configured with active = false)" }
        } @else {
            form.inline method="post" action={ (root) "w/" (segment(name)) "/api/start" } {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" aria-label={ "Start integration " (name) } { "Start integration" }
            }
        }
    }
}

/// GET `/console/`: one row per workshop, stopped ones included.
pub async fn integrations(
    req: HttpRequest,
    host: web::Data<Host>,
    console: web::Data<Console>,
    session: Session,
) -> HttpResponse {
    let root = root_of(req.path());
    let all: Vec<Row> = host.overview().await.iter().map(Row::of).collect();
    let admin = session.role == Role::Admin;
    let config = console.config();
    let dashboards = config.dashboard_url.is_some();
    let body = html! {
        h1 { "Integrations" }
        div #live {
            table {
                thead { tr {
                    th scope="col" { "Workshop" } th scope="col" { "ERP" } th scope="col" { "ERP health" }
                    th scope="col" { "API" } th scope="col" { "Worker" }
                    th scope="col" { "Task queue" } th scope="col" { "Error queue" }
                    th scope="col" { "Last completed" } th scope="col" { "Last error" }
                    @if dashboards { th scope="col" { "Dashboard" } }
                    @if admin { th scope="col" { "Control" } }
                } }
                tbody {
                    @for ov in &all {
                        tr {
                            td { a href={ (root) "w/" (segment(&ov.workshop)) } { (ov.workshop) } }
                            td { (ov.erp_type.as_deref().unwrap_or("?")) }
                            td { (erp_health(ov)) }
                            td class={ "state-" (ov.api) } { (ov.api) }
                            td class={ "state-" (ov.worker) } { (ov.worker) }
                            td.num { (ov.queue.task) }
                            td.num { (ov.queue.error) }
                            td { (ov.last_completed_at.as_deref().unwrap_or("never")) }
                            td { (ov.last_error.as_deref().unwrap_or("")) }
                            @if let Some(url) = config.dashboard_for(&ov.workshop) {
                                td { a href=(url) rel="noreferrer" aria-label={ "Grafana dashboard of " (ov.workshop) } { "Grafana" } }
                            }
                            @if admin { td { (controls(&root, ov, &session.csrf)) } }
                        }
                    }
                }
            }
            @if all.is_empty() { p { "No integration is configured." } }
        }
    };
    let p = Page {
        title: "Integrations",
        root: &root,
        session: Some(&session),
    };
    html_response(StatusCode::OK, page(p, body))
}

/// The workshop page's query.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    page: Option<usize>,
}

impl ListQuery {
    fn filter(&self) -> Filter {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Filter {
            status: given(&self.status),
            from_ms: self.from.as_deref().and_then(orders::parse_time),
            to_ms: self.to.as_deref().and_then(orders::parse_time),
            text: given(&self.q),
        }
    }

    /// The query string of another page of the same list.
    fn with_page(&self, page: usize) -> String {
        let mut parts = vec![format!("page={page}")];
        for (key, value) in [
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{key}={}", segment(v)));
            }
        }
        parts.join("&")
    }
}

const STATUSES: [&str; 5] = [
    "received",
    "processing",
    "completed",
    "bad request",
    "failed",
];

fn order_rows(root: &str, workshop: &str, rows: &[OrderRow]) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "Unique id" } th scope="col" { "Case" } th scope="col" { "Item" }
                th scope="col" { "Litres" } th scope="col" { "Status" } th scope="col" { "Reason" }
                th scope="col" { "Attempts" } th scope="col" { "First seen" } th scope="col" { "Last change" }
            } }
            tbody {
                @for row in rows {
                    @let o = row.view.order.as_ref();
                    tr {
                        td { a href={ (root) "w/" (segment(workshop)) "/o/" (segment(&row.view.unique_id)) } { (row.view.unique_id) } }
                        td { (o.map(|o| o.case_id.as_str()).unwrap_or("")) }
                        td { (o.map(|o| o.product_nr.as_str()).unwrap_or("")) }
                        td.num { (o.map(|o| o.product_amount.as_str()).unwrap_or("")) }
                        td class={ "status-" (row.view.status.as_str().replace(' ', "-")) } { (row.view.status.as_str()) }
                        td { (row.view.reason.as_deref().unwrap_or("")) }
                        td.num { (row.view.attempt) }
                        td { (timestamp(row.first_ms)) }
                        td { (timestamp(row.last_ms)) }
                    }
                }
            }
        }
    }
}

/// GET `w/{workshop}`: its orders, newest first, filtered and paged.
pub async fn workshop(
    req: HttpRequest,
    host: web::Data<Host>,
    console: web::Data<Console>,
    session: Session,
    name: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let root = root_of(req.path());
    let ws = match host.workshop(&name).await {
        Ok(ws) => ws,
        Err(HostError::Unavailable(why)) => return Ok(not_running(&root, &session, &name, &why)),
        Err(e) => return Err(e.into()),
    };
    let number = query.page.unwrap_or(0);
    let unavailable = |e: &dyn std::fmt::Display| ConsoleError::Unavailable(e.to_string());
    let list = GetOrderPage {
        filter: query.filter(),
        page: number,
        per_page: PER_PAGE,
    };
    let listed = ws
        .actors
        .status
        .send(list)
        .await
        .map_err(|e| unavailable(&e))?;
    let OrderPage { rows, total } = listed.map_err(|e| unavailable(&e))?;
    let actions = ws.actors.status.send(GetOperatorActions(10)).await;
    let actions = actions
        .map_err(|e| unavailable(&e))?
        .map_err(|e| unavailable(&e))?;
    // Enough of the newest health events to pair the outages shown.
    let health = ws
        .actors
        .status
        .send(GetHealthEvents(4 * outages::SHOWN))
        .await;
    let health = health
        .map_err(|e| unavailable(&e))?
        .map_err(|e| unavailable(&e))?;
    let outages = outages::outages(&health);
    let pages = total.div_ceil(PER_PAGE).max(1);
    let here = format!("{root}w/{}", segment(&name));
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        h1 { "Workshop " (name) }
        p {
            a href=(root) { "All integrations" }
            @if let Some(url) = console.config().dashboard_for(&name) {
                " · " a href=(url) rel="noreferrer" { "Grafana dashboard" }
            }
        }
        form.filters method="get" action=(here) {
            div { label for="f-status" { "Status" }
                select #f-status name="status" {
                    option value="" { "any" }
                    @for s in STATUSES {
                        option value=(s) selected[query.status.as_deref() == Some(s)] { (s) }
                    }
                }
            }
            div { label for="f-from" { "From (UTC)" } input #f-from type="datetime-local" name="from" value=(value(&query.from)); }
            div { label for="f-to" { "To (UTC)" } input #f-to type="datetime-local" name="to" value=(value(&query.to)); }
            div { label for="f-q" { "Unique id or case" } input #f-q type="search" name="q" value=(value(&query.q)); }
            button type="submit" { "Filter" }
        }
        div #live {
            p { (total) @if total == 1 { " order" } @else { " orders" } " · page " (number + 1) " of " (pages) }
            (order_rows(&root, &name, &rows))
        }
        nav.pages aria-label="Pages" {
            @if number > 0 { a href={ (here) "?" (query.with_page(number - 1)) } { "Newer" } }
            @if number + 1 < pages { a href={ (here) "?" (query.with_page(number + 1)) } { "Older" } }
        }
        (outages::section(&outages, now_ms()))
        h2 { "Recent operator actions" }
        @if actions.is_empty() { p.muted { "None recorded." } }
        ul {
            @for (ts, text) in &actions { li { (timestamp(*ts)) ": " (text) } }
        }
    };
    let title = format!("Workshop {name}");
    let p = Page {
        title: &title,
        root: &root,
        session: Some(&session),
    };
    Ok(html_response(StatusCode::OK, page(p, body)))
}

/// The page of a workshop that does not run (stopped, inactive or not started).
fn not_running(root: &str, session: &Session, name: &str, why: &str) -> HttpResponse {
    let body = html! {
        h1 { "Workshop " (name) }
        p { a href=(root) { "All integrations" } }
        p { (why) ": its orders and outages show while it runs." }
        @if session.role == Role::Admin {
            p { "Start it from the integrations page." }
        }
    };
    let title = format!("Workshop {name}");
    let p = Page {
        title: &title,
        root,
        session: Some(session),
    };
    html_response(StatusCode::SERVICE_UNAVAILABLE, page(p, body))
}

/// The search form's query.
#[derive(Deserialize)]
pub struct SearchQuery {
    unique_id: Option<String>,
}

/// GET `search?unique_id=ID`: the order's page in whichever workshop has it.
pub async fn search(
    req: HttpRequest,
    host: web::Data<Host>,
    session: Session,
    query: web::Query<SearchQuery>,
) -> HttpResponse {
    let root = root_of(req.path());
    let id = query.unique_id.as_deref().map(str::trim).unwrap_or("");
    if !id.is_empty() {
        for ws in host.workshops().await {
            if let Ok(Ok(Some(_))) = ws.actors.status.send(GetOrderRow(id.to_string())).await {
                let location = format!("{root}w/{}/o/{}", segment(&ws.settings.name), segment(id));
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish();
            }
        }
    }
    let body = html! {
        h1 { "Not found" }
        p { "No running workshop has an order with the unique id " code { (id) } "." }
        p { a href=(root) { "All integrations" } }
    };
    let p = Page {
        title: "Not found",
        root: &root,
        session: Some(&session),
    };
    html_response(StatusCode::NOT_FOUND, page(p, body))
}
