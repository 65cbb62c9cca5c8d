//! The sandbox's au2office (single-page style): its pages, the JSON its
//! JavaScript calls, and their HTML/JS assets in this folder.
//!
//! A login form, a dashboard whose navigation appears once its JS has run,
//! and a case page whose JS (`case.js`) fetches the case as JSON, renders the
//! lines and adds lines through a dialog with an asynchronous item lookup.
//! See shared/erp-ui.md.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::html::{
    fill, html, html_escape, json_error, page, path_and_query, redirect, redirect_with_session,
    url_encode,
};
use super::state::{Line, NewLine, SaveError};
use super::{delay, never, Sandbox};

/// The login form: `{{error}}`.
const LOGIN_HTML: &str = include_str!("login.html");
/// The dashboard's shell: `{{delay}}`, `{{script}}`.
const DASHBOARD_HTML: &str = include_str!("dashboard.html");
/// Renders the navigation after the configured delay.
const DASHBOARD_JS: &str = include_str!("dashboard.js");
/// The case page's shell: `{{case_id}}`, `{{dialog_delay}}`,
/// `{{rerender_lines_ms}}`, `{{reference_maxlength}}`, `{{script}}`.
const CASE_HTML: &str = include_str!("case.html");
/// Loads the case, renders it, runs the add-line dialog and the re-render fault.
const CASE_JS: &str = include_str!("case.js");

/// The page a login lands on.
const HOME: &str = "/dashboard";

/// Registers au2office's pages and the JSON endpoints their JS calls.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route(HOME, web::get().to(dashboard))
        .route("/cases/{case_id}", web::get().to(case_page))
        .route("/api/case", web::get().to(case_json))
        .route("/api/item", web::get().to(item_json))
        .route("/api/case/lines", web::post().to(save_line));
}

/// The login page URL that brings the user back to this request.
fn login_url(req: &HttpRequest) -> String {
    format!("/login?next={}", url_encode(&path_and_query(req), true))
}

/// `GET /`: home when logged in, else the login page.
async fn root(sb: web::Data<Sandbox>, req: HttpRequest) -> HttpResponse {
    if sb.logged_in(&req) {
        redirect(HOME)
    } else {
        redirect("/login")
    }
}

/// `GET /login`.
async fn login_page() -> HttpResponse {
    html(StatusCode::OK, login_html(false))
}

/// The login form, with the error when `failed`.
fn login_html(failed: bool) -> String {
    let error = if failed {
        "<div class=\"alert alert-danger\">Forkert brugernavn eller adgangskode</div>\n"
    } else {
        ""
    };
    page(
        "au2office - Log ind",
        &fill(LOGIN_HTML, &[("error", error)]),
    )
}

/// The login form's fields.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`: home on success, the form with its error otherwise.
async fn login(sb: web::Data<Sandbox>, form: web::Form<LoginForm>) -> HttpResponse {
    match sb.login(&form.username, &form.password) {
        Some(token) => redirect_with_session(HOME, &token),
        None => html(StatusCode::OK, login_html(true)),
    }
}

/// `GET /dashboard`: `nav#main-nav` appears after the page delay.
async fn dashboard(sb: web::Data<Sandbox>, req: HttpRequest) -> HttpResponse {
    if !sb.logged_in(&req) {
        return redirect(&login_url(&req));
    }
    let delay = sb.page_delay().to_string();
    let body = fill(
        DASHBOARD_HTML,
        &[("delay", &delay), ("script", DASHBOARD_JS)],
    );
    html(StatusCode::OK, page("au2office - Forside", &body))
}

/// `GET /cases/{case_id}`: a shell whose JS loads and renders the case.
async fn case_page(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    case_id: web::Path<String>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return redirect(&login_url(&req));
    }
    let maxlength = sb.reference_maxlength().unwrap_or(0).to_string();
    let body = fill(
        CASE_HTML,
        &[
            ("case_id", &html_escape(&case_id)),
            ("dialog_delay", &sb.dialog_delay().to_string()),
            ("rerender_lines_ms", &sb.rerender_lines().to_string()),
            ("reference_maxlength", &maxlength),
            ("script", CASE_JS),
        ],
    );
    html(StatusCode::OK, page("au2office - Sag", &body))
}

/// A case id in a query string.
#[derive(Deserialize)]
struct CaseQuery {
    id: String,
}

/// `GET /api/case?id=`: the case as JSON, after the page delay.
async fn case_json(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    query: web::Query<CaseQuery>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return session_gone();
    }
    if sb.case_hangs(&query.id) {
        return never().await;
    }
    delay(sb.page_delay()).await;
    let state = sb.state();
    let Some(case) = state.case(&query.id) else {
        return json_error(StatusCode::NOT_FOUND, "Sagen findes ikke");
    };
    let lines: Vec<_> = case.lines.iter().map(line_json).collect();
    HttpResponse::Ok().json(serde_json::json!({
        "case_id": query.id,
        "status": case.status.as_str(),
        "lines": lines,
    }))
}

/// A line as the page shows it (amount with a decimal comma).
fn line_json(line: &Line) -> serde_json::Value {
    serde_json::json!({
        "item_no": line.item_no,
        "qty": line.qty.display(),
        "reference": line.reference,
    })
}

/// The 401 that makes the page's JS go to the login page.
fn session_gone() -> HttpResponse {
    json_error(StatusCode::UNAUTHORIZED, "Session udløbet")
}

/// An item number in a query string.
#[derive(Deserialize)]
struct ItemQuery {
    item_no: String,
}

/// `GET /api/item?item_no=`: the item's name, after the lookup delay.
async fn item_json(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    query: web::Query<ItemQuery>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return session_gone();
    }
    delay(sb.lookup_delay()).await;
    let name = sb.state().item_name(&query.item_no).map(str::to_owned);
    match name {
        Some(name) => HttpResponse::Ok().json(serde_json::json!({
            "item_no": query.item_no.trim(),
            "name": name,
        })),
        None => json_error(StatusCode::NOT_FOUND, "Ukendt varenummer"),
    }
}

/// The dialog's fields as the page's JS posts them.
#[derive(Deserialize)]
struct SaveBody {
    #[serde(default)]
    item_no: String,
    #[serde(default)]
    qty: String,
    #[serde(default)]
    reference: String,
}

/// `POST /api/case/lines?id=`: stores a line; the answer carries it.
async fn save_line(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    query: web::Query<CaseQuery>,
    body: web::Bytes,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return session_gone();
    }
    let Ok(fields) = serde_json::from_slice::<SaveBody>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "Ugyldig forespørgsel");
    };
    let new = NewLine {
        item_no: &fields.item_no,
        qty: &fields.qty,
        reference: &fields.reference,
    };
    match sb.save(&query.id, new).await {
        Ok(Some(line)) => HttpResponse::Created().json(line_json(&line)),
        Ok(None) => never().await,
        Err(err) => save_refused(err),
    }
}

/// The answer to a save that stored nothing.
fn save_refused(err: SaveError) -> HttpResponse {
    let (status, text) = match err {
        SaveError::UnknownCase => (StatusCode::NOT_FOUND, "Sagen findes ikke"),
        SaveError::CaseClosed => (StatusCode::CONFLICT, "Sagen er lukket"),
        SaveError::UnknownItem => (StatusCode::BAD_REQUEST, "Ukendt varenummer"),
        SaveError::BadQty => (StatusCode::BAD_REQUEST, "Ugyldigt antal"),
        SaveError::InjectedFailure => (StatusCode::INTERNAL_SERVER_ERROR, "Intern serverfejl"),
    };
    json_error(status, text)
}
