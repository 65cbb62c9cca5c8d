//! The sandbox's admanager (older server-rendered style): its pages and
//! their HTML/JS assets in this folder.
//!
//! A login form, a home page with a menu, and a work order page whose lines
//! live in an iframe with a plain form POST, an item lookup (`lines.js`) that
//! raises a native `alert` for unknown items, and a locked state for
//! invoiced work orders. See shared/erp-ui.md.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::html::{
    fill, html, html_escape, json_error, page, path_and_query, redirect, redirect_with_session,
    url_encode,
};
use super::state::{Case, CaseStatus, Line, NewLine, SaveError};
use super::{delay, never, Sandbox};

/// The login form: `{{error}}`.
const LOGIN_HTML: &str = include_str!("login.html");
/// The home page with its menu.
const HOME_HTML: &str = include_str!("home.html");
/// The work order page: `{{case_id}}`, `{{lines_url}}`, `{{script}}`.
const EDIT_HTML: &str = include_str!("edit.html");
/// Loads the lines frame once the page has loaded.
const EDIT_JS: &str = include_str!("edit.js");
/// The work order page of an unknown id.
const UNKNOWN_HTML: &str = include_str!("unknown.html");
/// The frame of an unknown work order.
const FRAME_UNKNOWN_HTML: &str = include_str!("frame_unknown.html");
/// `table#gridLines`: `{{rerender_lines_ms}}`, `{{rows}}`, `{{script}}`.
const LINES_TABLE_HTML: &str = include_str!("lines_table.html");
/// One `tr.line`: `{{item_no}}`, `{{qty}}`, `{{reference}}`.
const LINE_ROW_HTML: &str = include_str!("line_row.html");
/// The re-render fault's script.
const RERENDER_JS: &str = include_str!("rerender.js");
/// The add form: `{{action}}`, `{{login_url}}`, `{{error}}`,
/// `{{note_maxlength}}`, `{{script}}`.
const LINE_FORM_HTML: &str = include_str!("line_form.html");
/// The add form's item lookup and submit guard.
const LINES_JS: &str = include_str!("lines.js");
/// The notice of an invoiced work order.
const LOCKED_HTML: &str = include_str!("locked.html");
/// The classic yellow-screen error page.
const SERVER_ERROR_HTML: &str = include_str!("server_error.html");

/// The page a login lands on.
const HOME: &str = "/Home/Index";

/// The lines frame's URL for a work order.
fn lines_url(case_id: &str) -> String {
    format!("/WorkOrder/Lines?id={}", url_encode(case_id, false))
}

/// The login page URL that brings the user back to `return_to`.
fn login_url(return_to: &str) -> String {
    format!("/Account/Login?ReturnUrl={}", url_encode(return_to, false))
}

/// Registers admanager's pages and the lookup its frame's JS calls.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/Account/Login", web::get().to(login_page))
        .route("/Account/Login", web::post().to(login))
        .route(HOME, web::get().to(home))
        .route("/WorkOrder/Edit", web::get().to(edit_page))
        .route("/WorkOrder/Lines", web::get().to(lines_page))
        .route("/WorkOrder/Lines", web::post().to(add_line))
        .route("/WorkOrder/LookupItem", web::get().to(lookup_item));
}

/// `GET /`: home when logged in, else the login page.
async fn root(sb: web::Data<Sandbox>, req: HttpRequest) -> HttpResponse {
    if sb.logged_in(&req) {
        redirect(HOME)
    } else {
        redirect("/Account/Login")
    }
}

/// `GET /Account/Login`.
async fn login_page() -> HttpResponse {
    html(StatusCode::OK, login_html(false))
}

/// The login form, with the validation summary when `failed`.
fn login_html(failed: bool) -> String {
    let error = if failed {
        "<span class=\"validation-summary-errors\">Ugyldigt brugernavn eller adgangskode.</span>\n"
    } else {
        ""
    };
    page("AdManager - Log på", &fill(LOGIN_HTML, &[("error", error)]))
}

/// The login form's fields.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default, rename = "UserName")]
    user_name: String,
    #[serde(default, rename = "Password")]
    password: String,
}

/// `POST /Account/Login`: home on success, the form with its error otherwise.
async fn login(sb: web::Data<Sandbox>, form: web::Form<LoginForm>) -> HttpResponse {
    match sb.login(&form.user_name, &form.password) {
        Some(token) => redirect_with_session(HOME, &token),
        None => html(StatusCode::OK, login_html(true)),
    }
}

/// `GET /Home/Index`: the menu.
async fn home(sb: web::Data<Sandbox>, req: HttpRequest) -> HttpResponse {
    if !sb.logged_in(&req) {
        return redirect(&login_url(&path_and_query(&req)));
    }
    html(StatusCode::OK, page("AdManager", HOME_HTML))
}

/// A work order id in a query string (missing: no such work order).
#[derive(Deserialize)]
struct IdQuery {
    #[serde(default)]
    id: String,
}

/// `GET /WorkOrder/Edit?id=`: the title and the lines frame.
async fn edit_page(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    query: web::Query<IdQuery>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return redirect(&login_url(&path_and_query(&req)));
    }
    let known = sb.state().case(&query.id).is_some();
    let body = if known {
        fill(
            EDIT_HTML,
            &[
                ("case_id", &html_escape(&query.id)),
                ("lines_url", &html_escape(&lines_url(&query.id))),
                ("script", EDIT_JS),
            ],
        )
    } else {
        UNKNOWN_HTML.to_owned()
    };
    html(StatusCode::OK, page("AdManager - Arbejdskort", &body))
}

/// `GET /WorkOrder/Lines?id=`: the frame's content, after the page delay.
async fn lines_page(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    query: web::Query<IdQuery>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return redirect(&login_url(&path_and_query(&req)));
    }
    if sb.case_hangs(&query.id) {
        return never().await;
    }
    delay(sb.page_delay()).await;
    html(StatusCode::OK, lines_html(&sb, &query.id, None))
}

/// The frame's page: the lines and the add form (or the locked notice).
fn lines_html(sb: &Sandbox, case_id: &str, error: Option<&str>) -> String {
    let state = sb.state();
    let faults = state.faults();
    let body = match state.case(case_id) {
        Some(case) => format!(
            "{}\n{}",
            lines_table(&case.lines, faults.rerender_lines_ms),
            add_form(case, case_id, error, faults.reference_maxlength)
        ),
        None => FRAME_UNKNOWN_HTML.to_owned(),
    };
    page("Linjer", &body)
}

/// `table#gridLines` with one `tr.line` per line, re-rendered every
/// `rerender_ms` when the fault is on.
fn lines_table(lines: &[Line], rerender_ms: u64) -> String {
    let rows: String = lines
        .iter()
        .map(|l| {
            fill(
                LINE_ROW_HTML,
                &[
                    ("item_no", &html_escape(&l.item_no)),
                    ("qty", &html_escape(&l.qty.display())),
                    ("reference", &html_escape(&l.reference)),
                ],
            )
        })
        .collect();
    fill(
        LINES_TABLE_HTML,
        &[
            ("rerender_lines_ms", &rerender_ms.to_string()),
            ("rows", &rows),
            ("script", RERENDER_JS),
        ],
    )
}

/// The add form, or `div#locked` when the work order is invoiced.
fn add_form(case: &Case, case_id: &str, error: Option<&str>, note_max: Option<u32>) -> String {
    if case.status == CaseStatus::Closed {
        return LOCKED_HTML.to_owned();
    }
    let error = error
        .map(|e| {
            format!(
                "<span class=\"field-validation-error\">{}</span><br>\n",
                html_escape(e)
            )
        })
        .unwrap_or_default();
    let url = lines_url(case_id);
    let note_maxlength = note_max
        .map(|n| format!(" maxlength=\"{n}\""))
        .unwrap_or_default();
    fill(
        LINE_FORM_HTML,
        &[
            ("action", &html_escape(&url)),
            ("login_url", &html_escape(&login_url(&url))),
            ("error", &error),
            ("note_maxlength", &note_maxlength),
            ("script", LINES_JS),
        ],
    )
}

/// The add form's fields.
#[derive(Deserialize)]
struct LineForm {
    #[serde(default, rename = "VareNr")]
    vare_nr: String,
    #[serde(default, rename = "Antal")]
    antal: String,
    #[serde(default, rename = "Note")]
    note: String,
}

/// `POST /WorkOrder/Lines?id=`: stores a line, then reloads the frame.
async fn add_line(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    query: web::Query<IdQuery>,
    form: web::Form<LineForm>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return redirect(&login_url(&path_and_query(&req)));
    }
    let new = NewLine {
        item_no: &form.vare_nr,
        qty: &form.antal,
        reference: &form.note,
    };
    match sb.save(&query.id, new).await {
        Ok(Some(_)) => redirect(&lines_url(&query.id)),
        Ok(None) => never().await,
        Err(SaveError::InjectedFailure) => html(StatusCode::INTERNAL_SERVER_ERROR, server_error()),
        Err(err) => refused(&sb, &query.id, err),
    }
}

/// The frame again, with the reason the line was refused.
fn refused(sb: &Sandbox, case_id: &str, err: SaveError) -> HttpResponse {
    let (status, text) = match err {
        SaveError::UnknownCase => (StatusCode::NOT_FOUND, "Arbejdskort findes ikke"),
        SaveError::CaseClosed => (StatusCode::CONFLICT, "Arbejdskortet er faktureret"),
        SaveError::UnknownItem => (StatusCode::BAD_REQUEST, "Varenummer findes ikke"),
        SaveError::BadQty => (StatusCode::BAD_REQUEST, "Ugyldigt antal"),
        SaveError::InjectedFailure => (StatusCode::INTERNAL_SERVER_ERROR, "Serverfejl"),
    };
    html(status, lines_html(sb, case_id, Some(text)))
}

/// The classic yellow-screen error page.
fn server_error() -> String {
    page("Runtime Error", SERVER_ERROR_HTML)
}

/// An item number in a query string.
#[derive(Deserialize)]
struct ItemQuery {
    #[serde(default)]
    varenr: String,
}

/// `GET /WorkOrder/LookupItem?varenr=`: the item's name, after the lookup delay.
async fn lookup_item(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    query: web::Query<ItemQuery>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return json_error(StatusCode::UNAUTHORIZED, "Session udløbet");
    }
    delay(sb.lookup_delay()).await;
    let name = sb.state().item_name(&query.varenr).map(str::to_owned);
    match name {
        Some(name) => HttpResponse::Ok().json(serde_json::json!({ "name": name })),
        None => json_error(StatusCode::NOT_FOUND, "Varenummer findes ikke"),
    }
}
