//! au2office's pages (single-page style): a login form, a dashboard whose
//! navigation appears once its JS has run, and a case page whose JS fetches
//! the case as JSON, renders the lines and adds lines through a dialog with
//! an asynchronous item lookup. See shared/erp-ui.md.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::state::{Line, NewLine, SaveError, Saved};
use super::{
    delay, html, html_escape, json_error, never, page, path_and_query, redirect,
    redirect_with_session, url_encode, Sandbox,
};

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
    let body = format!(
        "<h1>au2office</h1>\n{error}<form id=\"login-form\" method=\"post\" action=\"/login\">\n\
         <label>Brugernavn <input name=\"username\" autocomplete=\"username\"></label>\n\
         <label>Adgangskode <input type=\"password\" name=\"password\"></label>\n\
         <button id=\"login-button\" type=\"submit\">Log ind</button>\n</form>"
    );
    page("au2office - Log ind", &body)
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
    let body = format!(
        "<div id=\"app\" data-delay=\"{}\"><p class=\"loading\">Indlæser…</p></div>\n\
         <script>{DASHBOARD_JS}</script>",
        sb.page_delay()
    );
    html(StatusCode::OK, page("au2office - Forside", &body))
}

/// Renders the navigation after the configured delay.
const DASHBOARD_JS: &str = r#"
(() => {
  const app = document.getElementById('app');
  setTimeout(() => {
    const nav = document.createElement('nav');
    nav.id = 'main-nav';
    nav.innerHTML = '<a href="/dashboard">Forside</a> | <span>Sager</span> | <span>Kunder</span>';
    app.replaceChildren(nav, Object.assign(document.createElement('h1'), { textContent: 'Velkommen' }));
  }, Number(app.dataset.delay) || 0);
})();
"#;

/// `GET /cases/{case_id}`: a shell whose JS loads and renders the case.
async fn case_page(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    case_id: web::Path<String>,
) -> HttpResponse {
    if !sb.logged_in(&req) {
        return redirect(&login_url(&req));
    }
    let body = format!(
        "<div id=\"app\" data-case-id=\"{}\" data-dialog-delay=\"{}\">\
         <p class=\"loading\">Indlæser sag…</p></div>\n<script>{CASE_JS}</script>",
        html_escape(&case_id),
        sb.dialog_delay()
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
    let saved = sb.state().save_line(&query.id, new);
    match saved {
        Ok(Saved::Confirmed(line)) => HttpResponse::Created().json(line_json(&line)),
        Ok(Saved::Unconfirmed) => never().await,
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

/// The case page: loads the case, renders it, and runs the add-line dialog.
const CASE_JS: &str = r#"
(() => {
  'use strict';
  const app = document.getElementById('app');
  const caseId = app.dataset.caseId;
  const dialogDelay = Number(app.dataset.dialogDelay) || 0;
  const loginUrl = '/login?next=' + encodeURIComponent(location.pathname);

  function el(tag, props, text) {
    const e = Object.assign(document.createElement(tag), props || {});
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function call(method, url, body) {
    const opts = { method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (body) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(url, opts);
    if (r.status === 401) {
      window.location = loginUrl;
      throw new Error('session expired');
    }
    return r;
  }

  async function errorText(r, fallback) {
    try { return (await r.json()).error || fallback; } catch (_) { return fallback; }
  }

  function lineRow(l) {
    const tr = el('tr', { className: 'order-line' });
    tr.append(el('td', { className: 'item-no' }, l.item_no),
              el('td', { className: 'qty' }, l.qty),
              el('td', { className: 'reference' }, l.reference));
    return tr;
  }

  function renderCase(c) {
    const view = el('div', { id: 'case-view' });
    view.dataset.caseId = c.case_id;
    view.dataset.status = c.status;
    const table = el('table', { id: 'order-lines' });
    table.innerHTML = '<thead><tr><th>Varenr.</th><th>Antal</th><th>Reference</th></tr></thead>';
    const tbody = el('tbody');
    c.lines.forEach(l => tbody.append(lineRow(l)));
    table.append(tbody);
    const add = el('button', { id: 'add-line', type: 'button', disabled: c.status === 'closed' }, 'Tilføj linje');
    add.addEventListener('click', () => openDialog(view, tbody));
    view.append(el('h1', {}, 'Sag ' + c.case_id),
                el('p', { className: 'case-status' }, c.status === 'closed' ? 'Lukket' : 'Åben'),
                table, add);
    app.replaceChildren(view);
  }

  let dialogPending = false;
  function openDialog(view, tbody) {
    if (dialogPending || document.getElementById('line-dialog')) return;
    dialogPending = true;
    setTimeout(() => { dialogPending = false; view.append(lineDialog(tbody)); }, dialogDelay);
  }

  function field(label, input) {
    const l = el('label', {}, label + ' ');
    l.append(input);
    return l;
  }

  function lineDialog(tbody) {
    const d = el('div', { id: 'line-dialog' });
    const itemNo = el('input', { id: 'line-item-no', name: 'item_no' });
    const itemName = el('span', { id: 'line-item-name' });
    const qty = el('input', { id: 'line-qty', name: 'qty' });
    const ref = el('input', { id: 'line-reference', name: 'reference' });
    const save = el('button', { id: 'line-save', type: 'button' }, 'Gem');
    const cancel = el('button', { id: 'line-cancel', type: 'button' }, 'Annuller');
    d.append(field('Varenr.', itemNo), itemName, field('Antal', qty), field('Reference', ref), save, cancel);
    let lookup = { value: null, known: null };

    function showError(className, text) {
      d.querySelectorAll('.line-error, .alert-danger').forEach(e => e.remove());
      if (text) d.append(el('div', { className }, text));
    }

    async function lookUp() {
      const value = itemNo.value;
      if (lookup.value === value) return;
      const mine = lookup = { value, known: null };
      itemName.textContent = '';
      showError();
      const r = await call('GET', '/api/item?item_no=' + encodeURIComponent(value));
      if (lookup !== mine) return;
      if (r.ok) {
        const item = await r.json();
        mine.known = true;
        itemName.textContent = item.name;
      } else if (r.status === 404) {
        mine.known = false;
        showError('line-error', 'Ukendt varenummer');
      } else {
        showError('alert alert-danger', 'Varen kunne ikke slås op');
      }
    }

    async function saveLine() {
      if (lookup.value === itemNo.value && lookup.known === false) return;
      save.disabled = true;
      try {
        const body = { item_no: itemNo.value, qty: qty.value, reference: ref.value };
        const r = await call('POST', '/api/case/lines?id=' + encodeURIComponent(caseId), body);
        if (r.ok) {
          const line = await r.json();
          d.remove();
          tbody.append(lineRow(line));
        } else if (r.status >= 500) {
          showError('alert alert-danger', 'Der opstod en serverfejl. Linjen blev ikke gemt.');
        } else {
          showError('line-error', await errorText(r, 'Linjen blev ikke gemt'));
        }
      } catch (e) {
        showError('alert alert-danger', 'Linjen blev ikke gemt: ' + e.message);
      } finally {
        save.disabled = false;
      }
    }

    itemNo.addEventListener('change', () => lookUp().catch(() => {}));
    itemNo.addEventListener('keydown', e => {
      if (e.key === 'Enter') { e.preventDefault(); lookUp().catch(() => {}); }
    });
    save.addEventListener('click', () => saveLine());
    cancel.addEventListener('click', () => d.remove());
    return d;
  }

  async function load() {
    const r = await call('GET', '/api/case?id=' + encodeURIComponent(caseId));
    if (r.status === 404) {
      app.replaceChildren(el('div', { id: 'case-not-found' }, 'Sagen findes ikke'));
    } else if (!r.ok) {
      app.replaceChildren(el('div', { className: 'alert alert-danger' }, 'Sagen kunne ikke hentes'));
    } else {
      renderCase(await r.json());
    }
  }
  load().catch(() => {});
})();
"#;
