//! The routes of the per-workshop API, as interfaces.md names them.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use opentelemetry::propagation::Extractor;
use serde::Deserialize;
use serde_json::json;
use tracing::field::Empty;
use tracing::Instrument;

use super::{auth, create_body, ApiError, ApiState};
use crate::event_log::QueueKind;
use crate::telemetry::tracing_otel::{self, TraceIds};
use crate::workshop::intake::{ClearQueue, CreateAnswer, RecordBadRequest, Requeue};
use crate::workshop::status::{GetErpState, GetQueue, GetStatus, IsWorkerRunning, RenderMetrics};
use crate::workshop::worker::{StartWorker, StopWorker};

type Result<T> = std::result::Result<T, ApiError>;

/// Registers every route, each request in an HTTP server span ([`http_span`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(from_fn(http_span))
            .route("/alive", web::get().to(alive))
            .route("/queue", web::get().to(queue))
            .route("/clear_queue", web::put().to(clear_queue))
            .route("/kill", web::put().to(kill))
            .route("/start_worker", web::put().to(start_worker))
            .route("/stop_worker", web::put().to(stop_worker))
            .route("/create", web::post().to(create))
            .route("/check_order_status", web::get().to(check_order_status))
            .route("/requeue", web::put().to(requeue))
            .route("/metrics", web::get().to(metrics)),
    );
}

/// Routes polled all the time (scrapes, liveness probes): no spans.
const UNTRACED: [&str; 2] = ["/metrics", "/alive"];

/// The trace a request belongs to and its server span's id, put into the
/// request's extensions by [`http_span`].
#[derive(Debug, Clone)]
pub struct RequestTrace(pub TraceIds);

/// Middleware: the OpenTelemetry HTTP server span of a request, named
/// `{method} {route}` with the semantic-convention attributes, a child of
/// the caller's span in the request's `traceparent`, else the root of a new
/// trace.
pub async fn http_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> std::result::Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let route = req.match_pattern();
    if route.as_deref().is_some_and(|r| UNTRACED.contains(&r)) {
        return next.call(req).await;
    }
    let span = server_span(req.method().as_str(), route.as_deref());
    let caller = tracing_otel::incoming(&Headers(req.headers()));
    let ids = tracing_otel::start_request_span(&span, &caller);
    req.extensions_mut().insert(RequestTrace(ids));
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    tracing_otel::set_attribute(
        &span,
        "http.response.status_code",
        i64::from(status.as_u16()),
    );
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
        tracing_otel::set_attribute(&span, "error.type", status.as_str().to_string());
    }
    result
}

/// A request's headers, as the OpenTelemetry propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// A server span, `{method} {route}` (just `{method}` for unknown routes),
/// with the semantic-convention attributes (on the trace, not in the logs).
fn server_span(method: &str, route: Option<&str>) -> tracing::Span {
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
    );
    tracing_otel::set_attribute(&span, "http.request.method", method.to_string());
    if let Some(route) = route {
        tracing_otel::set_attribute(&span, "http.route", route.to_string());
    }
    span
}

/// The request's trace as [`http_span`] started it; a new trace for a
/// request that did not pass through it.
fn request_trace(req: &HttpRequest) -> TraceIds {
    let started = req.extensions().get::<RequestTrace>().map(|t| t.0.clone());
    started.unwrap_or_else(|| TraceIds {
        trace_id: crate::workshop::new_trace_id(),
        span_id: None,
    })
}

#[derive(Deserialize)]
struct QueueQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    /// A page of at most this many entries (`/queue`; default: all).
    limit: Option<usize>,
    /// Entries skipped before the page (`/queue`; default 0).
    offset: Option<usize>,
}

#[derive(Deserialize)]
struct StatusQuery {
    unique_id: Option<String>,
}

fn queue_kind(query: &QueueQuery) -> Result<QueueKind> {
    let kind = query.kind.as_deref().unwrap_or("");
    QueueKind::parse(kind).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "wrong queue type {kind:?}: use type=task or type=error"
        ))
    })
}

fn require_admin(state: &ApiState, req: &HttpRequest) -> Result<()> {
    if state.admin.allows(req) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

async fn alive(state: web::Data<ApiState>) -> Result<HttpResponse> {
    let running = state.workshop.actors.status.send(IsWorkerRunning).await?;
    let erp = state.workshop.actors.status.send(GetErpState).await?;
    Ok(HttpResponse::Ok().json(json!({
        "API is alive, worker running": running,
        "workshop": state.workshop.settings.name,
        "erp": erp,
    })))
}

async fn queue(state: web::Data<ApiState>, query: web::Query<QueueQuery>) -> Result<HttpResponse> {
    let kind = queue_kind(&query)?;
    let page = state
        .workshop
        .actors
        .status
        .send(GetQueue {
            kind,
            offset: query.offset.unwrap_or(0),
            limit: query.limit,
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"length": page.length, "queue": page.entries})))
}

async fn clear_queue(
    state: web::Data<ApiState>,
    req: HttpRequest,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse> {
    require_admin(&state, &req)?;
    let kind = queue_kind(&query)?;
    let cleared = state
        .workshop
        .actors
        .intake
        .send(ClearQueue(kind))
        .await??;
    tracing::info!(workshop = %state.workshop.settings.name, queue = kind.as_str(), cleared, "queue cleared");
    Ok(HttpResponse::Ok().json(json!({"cleared": cleared, "type": kind.as_str()})))
}

async fn kill(state: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse> {
    require_admin(&state, &req)?;
    tracing::warn!(workshop = %state.workshop.settings.name, "shutdown requested through /kill");
    (state.kill)();
    Ok(HttpResponse::Ok().json(json!({"Shutting down": std::process::id()})))
}

async fn start_worker(state: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse> {
    require_admin(&state, &req)?;
    let running = state
        .workshop
        .actors
        .worker
        .send(StartWorker { by_operator: true })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"Worker running": running})))
}

async fn stop_worker(state: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse> {
    require_admin(&state, &req)?;
    let running = state
        .workshop
        .actors
        .worker
        .send(StopWorker { by_operator: true })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"Worker running": running})))
}

#[tracing::instrument(name = "create order", skip_all, fields(workshop = %state.workshop.settings.name, unique_id, trace_id))]
async fn create(
    state: web::Data<ApiState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse> {
    if !auth::api_key_ok(&req, state.workshop.settings.api_key.as_ref()) {
        return Err(ApiError::Unauthorized);
    }
    let TraceIds { trace_id, span_id } = request_trace(&req);
    tracing::Span::current().record("trace_id", trace_id.as_str());
    let intake = &state.workshop.actors.intake;
    let request = match create_body::parse_create(&body, state.workshop.settings.max_unique_id_len)
    {
        Ok(request) => request,
        Err(bad) => {
            tracing::info!(reason = %bad.reason, unique_id = ?bad.unique_id, "bad create request");
            let reason = bad.reason.clone();
            if let Err(e) = intake.send(RecordBadRequest { bad, trace_id }).await? {
                tracing::error!(error = %e, "could not record the bad request");
            }
            return Err(ApiError::BadCreate(reason));
        }
    };
    let unique_id = request.unique_id.clone();
    tracing::Span::current().record("unique_id", unique_id.as_str());
    match state
        .workshop
        .actors
        .intake_desk
        .enqueue(request, trace_id, span_id)
        .await?
    {
        CreateAnswer::Accepted { status, new } => {
            tracing::info!(status = status.as_str(), new, "order acknowledged");
            Ok(HttpResponse::Ok().json(json!({"status": status.as_str(), "unique_id": unique_id})))
        }
        CreateAnswer::Bad(reason) => Err(ApiError::BadCreate(reason)),
    }
}

/// Extra endpoint: puts failed orders (all, or `?unique_id=`) back on the task queue.
async fn requeue(
    state: web::Data<ApiState>,
    req: HttpRequest,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse> {
    require_admin(&state, &req)?;
    let unique_id = query.unique_id.clone().filter(|id| !id.trim().is_empty());
    let requeued = state
        .workshop
        .actors
        .intake
        .send(Requeue(unique_id))
        .await??;
    Ok(HttpResponse::Ok().json(json!({"requeued": requeued})))
}

async fn check_order_status(
    state: web::Data<ApiState>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse> {
    let unique_id = query
        .unique_id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("missing query parameter unique_id".into()))?;
    let status = state
        .workshop
        .actors
        .status
        .send(GetStatus(unique_id.trim().to_string()))
        .await?;
    let (status, reason) = status
        .ok_or_else(|| ApiError::NotFound(format!("no order with unique_id {unique_id:?}")))?;
    Ok(HttpResponse::Ok().json(json!({
        "unique_id": unique_id.trim(),
        "status": status.as_str(),
        "reason": reason,
    })))
}

async fn metrics(state: web::Data<ApiState>) -> Result<HttpResponse> {
    let text = state.workshop.actors.status.send(RenderMetrics).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
