//! admanager's pages (older server-rendered style): a login form, a home page
//! with a menu, and a work order page whose lines live in an iframe with a
//! plain form POST, an item lookup that raises a native `alert` for unknown
//! items, and a locked state for invoiced work orders. See shared/erp-ui.md.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::state::{Case, CaseStatus, Line, NewLine, SaveError, Saved};
use super::{
    delay, html, html_escape, json_error, never, page, path_and_query, redirect,
    redirect_with_session, url_encode, Sandbox,
};

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
    let body = format!(
        "<h2>AdManager - Log på</h2>\n<form method=\"post\" action=\"/Account/Login\">\n{error}\
         <label>Brugernavn <input id=\"UserName\" name=\"UserName\" type=\"text\"></label><br>\n\
         <label>Adgangskode <input id=\"Password\" name=\"Password\" type=\"password\"></label><br>\n\
         <input id=\"btnLogin\" type=\"submit\" value=\"Log på\">\n</form>"
    );
    page("AdManager - Log på", &body)
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
    let body = "<div id=\"menu\"><a href=\"/Home/Index\">Forside</a> | <span>Arbejdskort</span> \
                | <span>Kunder</span></div>\n<h2>Velkommen til AdManager</h2>";
    html(StatusCode::OK, page("AdManager", body))
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
        format!(
            "<h2 id=\"workorder-title\">Arbejdskort {}</h2>\n\
             <iframe id=\"linesFrame\" name=\"linesFrame\" src=\"about:blank\" data-src=\"{}\" \
             width=\"900\" height=\"500\"></iframe>\n<script>{FRAME_JS}</script>",
            html_escape(&query.id),
            html_escape(&lines_url(&query.id))
        )
    } else {
        "<h2>Arbejdskort</h2>\n<span class=\"field-validation-error\">Arbejdskort findes ikke</span>"
            .to_owned()
    };
    html(StatusCode::OK, page("AdManager - Arbejdskort", &body))
}

/// Loads the lines frame only once the page has loaded, so the frame's
/// content really arrives late (a WebDriver `get` waits for frames in the markup).
const FRAME_JS: &str = "window.addEventListener('load', () => { \
    const f = document.getElementById('linesFrame'); f.src = f.dataset.src; });";

/// `GET /WorkOrder/Lines?id=`: the frame's content, after the page delay.
async fn lines_page(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    query: web::Query<IdQuery>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return redirect(&login_url(&path_and_query(&req)));
    }
    delay(sb.page_delay()).await;
    html(StatusCode::OK, lines_html(&sb, &query.id, None))
}

/// The frame's page: the lines and the add form (or the locked notice).
fn lines_html(sb: &Sandbox, case_id: &str, error: Option<&str>) -> String {
    let state = sb.state();
    let body = match state.case(case_id) {
        Some(case) => format!(
            "{}\n{}",
            lines_table(&case.lines),
            add_form(case, case_id, error)
        ),
        None => "<span class=\"field-validation-error\">Arbejdskort findes ikke</span>".to_owned(),
    };
    page("Linjer", &body)
}

/// `table#gridLines` with one `tr.line` per line.
fn lines_table(lines: &[Line]) -> String {
    let rows: String = lines
        .iter()
        .map(|l| {
            format!(
                "<tr class=\"line\"><td class=\"varenr\">{}</td><td class=\"antal\">{}</td>\
                 <td class=\"note\">{}</td></tr>\n",
                html_escape(&l.item_no),
                html_escape(&l.qty.display()),
                html_escape(&l.reference)
            )
        })
        .collect();
    format!(
        "<table id=\"gridLines\">\n<tr class=\"header\"><th>Varenr</th><th>Antal</th><th>Note</th></tr>\n\
         {rows}</table>"
    )
}

/// The add form, or `div#locked` when the work order is invoiced.
fn add_form(case: &Case, case_id: &str, error: Option<&str>) -> String {
    if case.status == CaseStatus::Closed {
        return "<div id=\"locked\">Arbejdskortet er faktureret og kan ikke ændres.</div>"
            .to_owned();
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
    format!(
        "<form id=\"lineForm\" method=\"post\" action=\"{}\" data-login-url=\"{}\">\n{error}\
         <label>Varenr <input id=\"txtVareNr\" name=\"VareNr\" autocomplete=\"off\"></label> \
         <span id=\"lblVareNavn\"></span><br>\n\
         <label>Antal <input id=\"txtAntal\" name=\"Antal\" autocomplete=\"off\"></label><br>\n\
         <label>Note <input id=\"txtNote\" name=\"Note\" autocomplete=\"off\"></label><br>\n\
         <input id=\"btnTilfoej\" type=\"submit\" value=\"Tilføj\">\n</form>\n<script>{LINES_JS}</script>",
        html_escape(&url),
        html_escape(&login_url(&url))
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
    let saved = sb.state().save_line(&query.id, new);
    match saved {
        Ok(Saved::Confirmed(_)) => redirect(&lines_url(&query.id)),
        Ok(Saved::Unconfirmed) => never().await,
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
    page(
        "Runtime Error",
        "<h1>Server Error in '/' Application.</h1>\n<h2><i>Runtime Error</i></h2>\n\
         <p>An unhandled exception occurred during the execution of the current web request.</p>",
    )
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

/// The frame's form: looks the item up on change (Tab or Enter), alerts on
/// an unknown item and only submits a known one.
const LINES_JS: &str = r#"
(() => {
  'use strict';
  const form = document.getElementById('lineForm');
  const nr = document.getElementById('txtVareNr');
  const lbl = document.getElementById('lblVareNavn');
  const MSG = 'Varenummer findes ikke';
  let last = null;
  let submitted = false;

  async function fetchItem(value) {
    const r = await fetch('/WorkOrder/LookupItem?varenr=' + encodeURIComponent(value),
      { credentials: 'same-origin', headers: { 'X-Requested-With': 'XMLHttpRequest' } });
    if (r.status === 401) { window.location = form.dataset.loginUrl; return { result: 'session' }; }
    if (r.status === 404) return { result: 'unknown' };
    if (!r.ok) return { result: 'error' };
    return { result: 'known', name: (await r.json()).name };
  }

  function lookUp() {
    const value = nr.value;
    if (last && last.value === value) return last;
    const entry = { value, settled: false };
    last = entry;
    lbl.textContent = '';
    entry.result = fetchItem(value).catch(() => ({ result: 'error' })).then(found => {
      entry.settled = true;
      if (last === entry && found.result === 'known') lbl.textContent = found.name;
      if (last === entry && found.result === 'unknown') alert(MSG);
      return found.result;
    });
    return entry;
  }

  nr.addEventListener('change', () => { lookUp(); });
  nr.addEventListener('keydown', e => {
    if (e.key === 'Enter') { e.preventDefault(); lookUp(); }
  });
  form.addEventListener('submit', e => {
    e.preventDefault();
    if (submitted) return;
    const entry = lookUp();
    const wasSettled = entry.settled;
    entry.result.then(result => {
      if (result === 'known' || result === 'error') {
        if (!submitted) { submitted = true; form.submit(); }
      } else if (result === 'unknown' && wasSettled) {
        alert(MSG);
      }
    });
  });
})();
"#;
