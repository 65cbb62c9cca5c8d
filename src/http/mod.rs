//! The per-workshop HTTP API: the original Flask contract, kept. Handlers
//! talk to the workshop's actors only; errors map to status codes in one
//! place ([`ApiError`]).

pub mod auth;
pub mod create_body;
pub mod deadline;
pub mod routes;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{http::StatusCode, web, App, HttpResponse, HttpServer, ResponseError};
use serde_json::json;

use crate::workshop::Workshop;

pub use auth::AdminToken;

/// actix-web worker threads per workshop API (each a single-threaded arbiter).
pub const WORKERS: usize = 2;

/// Called when `/kill` asks the integration to stop.
pub type KillSwitch = Arc<dyn Fn() + Send + Sync>;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The workshop served.
    pub workshop: Workshop,
    /// Who may use the control endpoints.
    pub admin: AdminToken,
    /// What `/kill` does.
    pub kill: KillSwitch,
}

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a `{"status":"bad request","reason"}` body (from `/create`).
    #[error("{0}")]
    BadCreate(String),
    /// 400 with `{"error"}`.
    #[error("{0}")]
    BadRequest(String),
    /// 401.
    #[error("unauthorized")]
    Unauthorized,
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 503: nothing was acknowledged.
    #[error("{0}")]
    Unavailable(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadCreate(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            ApiError::BadCreate(reason) => json!({"status": "bad request", "reason": reason}),
            ApiError::Unavailable(reason) => {
                json!({"status": "unavailable", "reason": reason, "error": reason})
            }
            other => json!({"error": other.to_string()}),
        };
        HttpResponse::build(self.status_code()).json(body)
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        ApiError::Unavailable(format!("workshop not running: {e}"))
    }
}

impl From<crate::event_log::Error> for ApiError {
    fn from(e: crate::event_log::Error) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

/// Starts the workshop's HTTP API on `listener`.
pub fn serve(state: ApiState, listener: TcpListener) -> std::io::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(web::PayloadConfig::new(create_body::MAX_BODY))
            .wrap(actix_web::middleware::from_fn(deadline::body_deadline))
            .configure(routes::configure)
    })
    .workers(WORKERS)
    .client_disconnect_timeout(std::time::Duration::from_secs(2))
    .disable_signals()
    .shutdown_timeout(3)
    .listen(listener)?
    .run();
    Ok(server)
}
