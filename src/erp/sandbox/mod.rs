//! The sandbox ERP: a fake workshop ERP web server that serves the UI
//! contract of shared/erp-ui.md for one ERP type, for tests, the demo and
//! trying an integration before it goes live.
//!
//! - [`state`]: the in-memory data (users, cases, items, lines, sessions,
//!   faults) and its rules (amounts, fault counters, session expiry).
//! - `au2office` / `admanager`: the pages of each ERP type. A new ERP type
//!   is one new file with its `configure` and a line in [`configure_erp`].
//! - this file: [`run`], the shared session and HTML helpers, and the JSON
//!   control API under `/_sandbox/` that no real ERP has and drivers never call.

mod admanager;
mod au2office;
pub mod state;

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::dev::Service as _;
use actix_web::http::{header, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use anyhow::Context as _;
use serde::de::DeserializeOwned;

use self::state::{CaseSeed, FaultsPatch, ItemSeed, Seed, State, UserSeed};
use super::ErpType;

/// How long a session may stay idle unless configured otherwise.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(15 * 60);

/// The name of the session cookie.
const SESSION_COOKIE: &str = "SBSESSION";

/// Options for one sandbox ERP process.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Which ERP's UI to serve.
    pub erp: ErpType,
    /// JSON seed file: `{"users":[{"username","password"}],
    /// "cases":[{"case_id","status"}],"items":[{"item_no","name"}]}`.
    pub data: Option<PathBuf>,
    /// Sessions expire after this much inactivity (default 15 min).
    pub session_idle: Duration,
}

impl SandboxOptions {
    /// Options for `erp` with no seed data and the default idle timeout.
    pub fn new(erp: ErpType) -> SandboxOptions {
        SandboxOptions {
            erp,
            data: None,
            session_idle: DEFAULT_SESSION_IDLE,
        }
    }
}

/// Binds and runs the sandbox until `shutdown` resolves. Must be called
/// inside an actix System (actix_web::main / actix_rt::System).
pub async fn run(
    opts: SandboxOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sandbox = Sandbox {
        erp: opts.erp,
        state: Arc::new(Mutex::new(initial_state(&opts)?)),
    };
    let server = HttpServer::new(move || {
        let sb = sandbox.clone();
        App::new()
            .app_data(web::Data::new(sandbox.clone()))
            .wrap_fn(move |req, srv| {
                let (method, path) = (req.method(), req.path());
                tracing::debug!(erp = %sb.erp, %method, %path, "sandbox request");
                let hang = sb.hang_for(req.path());
                let response = srv.call(req);
                async move {
                    delay(hang).await;
                    response.await
                }
            })
            .configure(control_routes)
            .configure(|cfg| configure_erp(sandbox.erp, cfg))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .context("cannot listen for the sandbox ERP")?
    .run();
    let handle = server.handle();
    actix_rt::spawn(async move {
        shutdown.await;
        // Not graceful: a sandbox has nothing to drain, and browsers keep idle
        // connections (and hung saves) open, which would delay every test's teardown.
        handle.stop(false).await;
    });
    server.await.context("sandbox ERP server failed")
}

/// The state to start with: empty, or the seed data file's.
fn initial_state(opts: &SandboxOptions) -> anyhow::Result<State> {
    let mut state = State::new(opts.session_idle);
    if let Some(path) = &opts.data {
        state
            .apply_seed(read_seed(path)?)
            .with_context(|| format!("invalid seed data in {}", path.display()))?;
    }
    Ok(state)
}

/// Reads and parses the seed data file.
fn read_seed(path: &Path) -> anyhow::Result<Seed> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read seed data {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("invalid seed data in {}", path.display()))
}

/// Registers the pages of one ERP type.
fn configure_erp(erp: ErpType, cfg: &mut web::ServiceConfig) {
    match erp {
        ErpType::Au2office => au2office::configure(cfg),
        ErpType::Admanager => admanager::configure(cfg),
    }
}

/// The shared state of a running sandbox, given to every handler.
#[derive(Clone)]
struct Sandbox {
    erp: ErpType,
    state: Arc<Mutex<State>>,
}

impl Sandbox {
    /// The state; a poisoned lock is taken over (the data stays usable).
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the request carries a live session (and keeps it alive).
    fn logged_in(&self, req: &HttpRequest) -> bool {
        session_token(req).is_some_and(|t| self.state().touch_session(&t, Instant::now()))
    }

    /// Checks the credentials; a session token on success.
    fn login(&self, username: &str, password: &str) -> Option<String> {
        self.state().login(username, password, Instant::now())
    }

    /// How long the `hang_pages_ms` fault holds a request to `path`.
    fn hang_for(&self, path: &str) -> u64 {
        if path.starts_with("/_sandbox/") {
            return 0;
        }
        self.state().faults().hang_pages_ms
    }

    /// The current `page_delay_ms`.
    fn page_delay(&self) -> u64 {
        self.state().faults().page_delay_ms
    }

    /// The current `lookup_delay_ms`.
    fn lookup_delay(&self) -> u64 {
        self.state().faults().lookup_delay_ms
    }

    /// The current `dialog_delay_ms`.
    fn dialog_delay(&self) -> u64 {
        self.state().faults().dialog_delay_ms
    }
}

/// The session token from the request's `Cookie` headers.
fn session_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// A 303 redirect to `location` that also sets the session cookie.
fn redirect_with_session(location: &str, token: &str) -> HttpResponse {
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::SET_COOKIE, cookie))
        .finish()
}

/// A 303 redirect to `location`.
fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// An HTML response.
fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// A JSON error body `{"error": message}`.
fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

/// A whole HTML page; `title` is escaped here, `body` must already be.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"da\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>body{{font-family:sans-serif;margin:1em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:2px 6px}}\
         .alert-danger,.line-error,.validation-summary-errors,.field-validation-error{{color:#a00}}\
         </style></head>\n<body>\n{}\n</body></html>\n",
        html_escape(title),
        body
    )
}

/// Escapes text for HTML content and quoted attribute values.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes `text` for a query value; `/` is kept when `keep_slash`.
fn url_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let plain = b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/');
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request's path with its query string, for `next` / `ReturnUrl`.
fn path_and_query(req: &HttpRequest) -> String {
    match req.uri().query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_owned(),
    }
}

/// Sleeps `ms` milliseconds (a real async delay), if any.
async fn delay(ms: u64) {
    if ms > 0 {
        actix_rt::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Never completes: a response the ERP "forgets" to send.
async fn never() -> HttpResponse {
    std::future::pending().await
}

// ---- control API ----------------------------------------------------------

/// Registers the JSON control API under `/_sandbox/`.
fn control_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_sandbox")
            .route("/health", web::get().to(health))
            .route("/users", web::post().to(post_user))
            .route("/cases", web::post().to(post_case))
            .route("/items", web::post().to(post_item))
            .route("/cases/{case_id}/lines", web::get().to(get_lines))
            .route("/faults", web::get().to(get_faults))
            .route("/faults", web::post().to(post_faults))
            .route("/reset", web::post().to(post_reset)),
    );
}

/// Why a control API request was refused.
#[derive(Debug, thiserror::Error)]
enum ControlError {
    /// The body is not the expected JSON.
    #[error("invalid JSON: {0}")]
    BadJson(#[from] serde_json::Error),
    /// Valid JSON, invalid data.
    #[error("invalid data: {0}")]
    BadData(#[from] state::SeedError),
    /// No such case.
    #[error("unknown case")]
    UnknownCase,
}

impl ResponseError for ControlError {
    fn status_code(&self) -> StatusCode {
        match self {
            ControlError::BadJson(_) | ControlError::BadData(_) => StatusCode::BAD_REQUEST,
            ControlError::UnknownCase => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        json_error(self.status_code(), &self.to_string())
    }
}

/// Parses a JSON request body.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    Ok(serde_json::from_slice(body)?)
}

/// `{"ok": true}`.
fn ok() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "ok": true }))
}

/// `GET /_sandbox/health`: `{"erp": "au2office"}`.
async fn health(sb: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "erp": sb.erp }))
}

/// `POST /_sandbox/users {"username","password"}`.
async fn post_user(sb: web::Data<Sandbox>, body: web::Bytes) -> Result<HttpResponse, ControlError> {
    let user: UserSeed = parse(&body)?;
    sb.state().upsert_user(user)?;
    Ok(ok())
}

/// `POST /_sandbox/cases {"case_id","status"}`.
async fn post_case(sb: web::Data<Sandbox>, body: web::Bytes) -> Result<HttpResponse, ControlError> {
    let case: CaseSeed = parse(&body)?;
    sb.state().upsert_case(case)?;
    Ok(ok())
}

/// `POST /_sandbox/items {"item_no","name"}`.
async fn post_item(sb: web::Data<Sandbox>, body: web::Bytes) -> Result<HttpResponse, ControlError> {
    let item: ItemSeed = parse(&body)?;
    sb.state().upsert_item(item)?;
    Ok(ok())
}

/// `GET /_sandbox/cases/{case_id}/lines`: `[{"item_no","qty","reference"}]`.
async fn get_lines(
    sb: web::Data<Sandbox>,
    case_id: web::Path<String>,
) -> Result<HttpResponse, ControlError> {
    let state = sb.state();
    let case = state.case(&case_id).ok_or(ControlError::UnknownCase)?;
    Ok(HttpResponse::Ok().json(&case.lines))
}

/// `GET /_sandbox/faults`: the current fault settings.
async fn get_faults(sb: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok().json(sb.state().faults())
}

/// `POST /_sandbox/faults`: changes the given fault settings.
async fn post_faults(
    sb: web::Data<Sandbox>,
    body: web::Bytes,
) -> Result<HttpResponse, ControlError> {
    let patch: FaultsPatch = parse(&body)?;
    let faults = sb.state().patch_faults(patch);
    tracing::debug!(?faults, "sandbox faults changed");
    Ok(HttpResponse::Ok().json(faults))
}

/// `POST /_sandbox/reset`: clears every fault.
async fn post_reset(sb: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok().json(sb.state().reset_faults())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_escapes_markup_and_quotes() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn url_encode_matches_the_login_urls_of_the_contract() {
        assert_eq!(url_encode("/cases/558", true), "/cases/558");
        assert_eq!(
            url_encode("/WorkOrder/Edit?id=558", false),
            "%2FWorkOrder%2FEdit%3Fid%3D558"
        );
        assert_eq!(url_encode("æ ø", false), "%C3%A6%20%C3%B8");
    }
}
