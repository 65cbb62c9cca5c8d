//! The sandbox ERP: an HTTP server that serves one ERP type's UI exactly as
//! shared/erp-ui.md describes it, plus a JSON control API for tests and the demo.
//!
//! It is a reading of erp-ui.md of its own: it uses nothing of the drivers
//! (`crate::erp`) or of the order model, so a test against it can catch a
//! driver's mistake (design.md).
//! - [`state`]: the in-memory data (users, cases, items, lines, sessions,
//!   faults) and its rules (amounts, fault counters, session expiry).
//! - `au2office/`, `admanager/`: the pages of each ERP type, mirroring the
//!   drivers' folders; their HTML and JavaScript are asset files next to the
//!   code (`include_str!`, `{{name}}` placeholders). A new ERP type is one
//!   folder with its `configure`, a [`SandboxKind`] and a line in [`configure_erp`].
//! - `html`: the session cookie, redirects and page helpers both types share.
//! - this file: [`run`], the outage and hang faults (applied to every UI
//!   request), and the JSON control API under `/_sandbox/` that no real ERP
//!   has and drivers never call.
//!
//! # Faults (`POST /_sandbox/faults`, shown by `GET /_sandbox/faults`)
//! Absent fields keep their value; `POST /_sandbox/reset` clears them all.
//! - `page_delay_ms`, `lookup_delay_ms`, `dialog_delay_ms`: asynchronous
//!   delays of page content, item lookups and au2office's dialog.
//! - `fail_saves: N`: the next N saves answer HTTP 500 and store nothing.
//! - `store_without_confirm: N`: the next N saves are stored but their
//!   answer never comes (to test the reference check).
//! - `expire_sessions: true`, `session_idle_ms`: expired sessions.
//! - `hang_pages_ms`: every UI request is held this long (a hung ERP).
//! - `slow_commit: {"saves": N, "secs": S}` (or the flat
//!   `slow_commit_saves: N`, `slow_commit_ms: MS`): the next N saves are
//!   held S seconds and only then stored, in a task of their own, so the
//!   line lands even when the browser gave up waiting; the save's answer
//!   waits until the line is stored (a save that commits late).
//! - `rerender_lines_ms: N`: the case's lines (au2office: the rows of
//!   `table#order-lines tbody`; admanager: the rows of `table#gridLines` in
//!   the frame) are replaced by fresh copies of themselves every N ms by the
//!   page's JavaScript: same content, new elements. 0 = off. Takes effect for
//!   pages loaded after the change.
//! - `reference_maxlength: N`: the reference input (`input#line-reference`,
//!   `input#txtNote`) carries `maxlength="N"` and the ERP stores at most N
//!   characters of a reference. `null` or 0 = no limit.
//! - `down: "503" | "maintenance" | "close"`: every UI request (not
//!   `/_sandbox/`) answers HTTP 503, or a 200 maintenance page without any
//!   of the UI's landmarks, or has its connection closed without an answer
//!   (the socket is shut down, so the client reads an empty reply; should
//!   the socket be unknown, the request hangs instead). `null` or `""` ends
//!   the outage.
//! - `hang_cases: ["CASE", ...]`: the pages of these cases never load
//!   their content, while the rest of the ERP works: au2office's case data
//!   (`/api/case?id=`) and admanager's lines frame (`GET
//!   /WorkOrder/Lines?id=`) are held without an answer, so the case page's
//!   landmarks never appear. `[]` ends it.
//!
//! `GET /_sandbox/requests` shows the UI requests received ([`requests`]).

mod admanager;
mod au2office;
mod html;
pub mod requests;
pub mod state;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::dev::{Extensions, Service as _, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use anyhow::Context as _;
use serde::de::DeserializeOwned;

use self::html::{html, json_error, page, session_token};
use self::requests::RequestLog;
use self::state::{
    CaseSeed, Down, FaultsPatch, ItemSeed, Line, NewLine, SaveError, Saved, Seed, State, UserSeed,
};
use crate::platform;

/// How long a session may stay idle unless configured otherwise.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(15 * 60);

/// The ERP types the sandbox can serve (the sandbox's own list, named as in
/// erp-ui.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxKind {
    /// au2office: the single-page style UI.
    Au2office,
    /// admanager: the server-rendered UI with a frame and native alerts.
    Admanager,
}

impl SandboxKind {
    /// Every type the sandbox serves.
    pub const ALL: [SandboxKind; 2] = [SandboxKind::Au2office, SandboxKind::Admanager];

    /// The type's name: `au2office`, `admanager`.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxKind::Au2office => "au2office",
            SandboxKind::Admanager => "admanager",
        }
    }
}

impl fmt::Display for SandboxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SandboxKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SandboxKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown ERP type {s:?} (expected au2office or admanager)"))
    }
}

/// Options for one sandbox ERP process.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Which ERP's UI to serve.
    pub erp: SandboxKind,
    /// JSON seed file: `{"users":[{"username","password"}],
    /// "cases":[{"case_id","status"}],"items":[{"item_no","name"}]}`.
    pub data: Option<PathBuf>,
    /// Sessions expire after this much inactivity (default 15 min).
    pub session_idle: Duration,
}

impl SandboxOptions {
    /// Options for `erp` with no seed data and the default idle timeout.
    pub fn new(erp: SandboxKind) -> SandboxOptions {
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
        requests: RequestLog::default(),
    };
    let server = HttpServer::new(move || {
        let sb = sandbox.clone();
        App::new()
            .app_data(web::Data::new(sandbox.clone()))
            .app_data(web::Data::new(sandbox.requests.clone()))
            .wrap_fn(move |req, srv| {
                let (method, path) = (req.method(), req.path());
                tracing::debug!(erp = %sb.erp, %method, %path, "sandbox request");
                let (hang, down) = sb.ui_faults(req.path());
                let seq = sb.requests.arrived(method.as_str(), path, down);
                let served = match down {
                    None => Ok(srv.call(req)),
                    Some(down) => Err(outage(down, req)),
                };
                let requests = sb.requests.clone();
                async move {
                    delay(hang).await;
                    let response = match served {
                        Ok(response) => response.await.map(ServiceResponse::map_into_boxed_body),
                        Err(Some(response)) => Ok(response),
                        Err(None) => std::future::pending().await,
                    };
                    if let Ok(r) = &response {
                        requests.answered(seq, r.status());
                    }
                    response
                }
            })
            .configure(control_routes)
            .configure(|cfg| configure_erp(sandbox.erp, cfg))
    })
    .on_connect(remember_socket)
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
fn configure_erp(erp: SandboxKind, cfg: &mut web::ServiceConfig) {
    match erp {
        SandboxKind::Au2office => au2office::configure(cfg),
        SandboxKind::Admanager => admanager::configure(cfg),
    }
}

/// The raw socket of a connection, kept for the `close` outage.
#[derive(Debug, Clone, Copy)]
struct ConnSocket(platform::RawSocket);

/// Remembers each TCP connection's socket in its connection data.
fn remember_socket(conn: &dyn Any, ext: &mut Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_rt::net::TcpStream>() {
        ext.insert(ConnSocket(platform::raw_socket(tcp)));
    }
}

/// The answer of an ERP that is down: `None` means none at all (the
/// connection is shut down, or, if its socket is unknown, left hanging).
fn outage(down: Down, req: actix_web::dev::ServiceRequest) -> Option<ServiceResponse> {
    let response = match down {
        Down::Http503 => html(
            StatusCode::SERVICE_UNAVAILABLE,
            page("Service Unavailable", include_str!("unavailable.html")),
        ),
        Down::Maintenance => html(
            StatusCode::OK,
            page("Vedligeholdelse", include_str!("maintenance.html")),
        ),
        Down::Close => {
            if let Some(ConnSocket(socket)) = req.request().conn_data::<ConnSocket>().copied() {
                // SAFETY: `socket` is the socket of the connection this request
                // arrived on, which stays open while the request is served.
                unsafe { platform::shutdown_socket(socket) };
            }
            return None;
        }
    };
    Some(req.into_response(response))
}

/// The shared state of a running sandbox, given to every handler.
#[derive(Clone)]
struct Sandbox {
    erp: SandboxKind,
    state: Arc<Mutex<State>>,
    requests: RequestLog,
}

impl Sandbox {
    /// The state; a poisoned lock is taken over (the data stays usable).
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Whether the request carries a live session (and keeps it alive).
    fn logged_in(&self, req: &HttpRequest) -> bool {
        session_token(req).is_some_and(|t| self.state().touch_session(&t, Instant::now()))
    }

    /// Checks the credentials; a session token on success.
    fn login(&self, username: &str, password: &str) -> Option<String> {
        self.state().login(username, password, Instant::now())
    }

    /// The `hang_pages_ms` and `down` faults for a request to `path`
    /// (the control API has none).
    fn ui_faults(&self, path: &str) -> (u64, Option<Down>) {
        if path.starts_with("/_sandbox/") {
            return (0, None);
        }
        let state = self.state();
        (state.faults().hang_pages_ms, state.faults().down)
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

    /// The current `rerender_lines_ms`.
    fn rerender_lines(&self) -> u64 {
        self.state().faults().rerender_lines_ms
    }

    /// Whether the `hang_cases` fault holds this case's page.
    fn case_hangs(&self, case_id: &str) -> bool {
        self.state()
            .faults()
            .hang_cases
            .iter()
            .any(|c| c == case_id)
    }

    /// The current `reference_maxlength`.
    fn reference_maxlength(&self) -> Option<u32> {
        self.state().faults().reference_maxlength
    }

    /// Saves a line. `Some(line)`: stored, and the answer may confirm it;
    /// `None`: stored, and the answer must never come. A slow commit is
    /// stored by a task of its own once its time has passed (so it lands even
    /// when the browser stops waiting), and this waits for it.
    async fn save(&self, case_id: &str, new: NewLine<'_>) -> Result<Option<Line>, SaveError> {
        let saved = self.state().save_line(case_id, new)?;
        let (line, after, confirm) = match saved {
            Saved::Confirmed(line) => return Ok(Some(line)),
            Saved::Unconfirmed => return Ok(None),
            Saved::Held {
                line,
                after,
                confirm,
            } => (line, after, confirm),
        };
        tracing::debug!(case_id, ?after, "sandbox save held");
        let (done, stored) = tokio::sync::oneshot::channel();
        let (state, case_id, held) = (self.state.clone(), case_id.to_owned(), line.clone());
        actix_rt::spawn(async move {
            actix_rt::time::sleep(after).await;
            let _ = done.send(lock(&state).commit(&case_id, held));
        });
        match stored.await {
            Ok(result) => result.map(|()| confirm.then_some(line)),
            // The server stopped before the commit: no answer.
            Err(_) => Ok(None),
        }
    }
}

/// Locks the state; a poisoned lock is taken over (the data stays usable).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
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
            .route("/requests", web::get().to(requests::get))
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
