//! The management API of the integration host, for the ILX admin GUI. Every
//! request needs `Authorization: Bearer TOKEN` when `OILMAT_ADMIN_TOKEN` is
//! set; without a token the API listens on loopback only. Handlers talk to
//! the host and the workshops' actors, never to a store or a driver. The
//! support console ([`crate::console`]) is mounted under `/console/` with
//! its own sign-in; its cookie never opens this API.

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{http::StatusCode, web, App, HttpResponse, HttpServer, ResponseError};
use serde::Deserialize;
use serde_json::json;

use crate::config::IntegrationConfig;
use crate::console::Console;
use crate::host::{Host, HostError};
use crate::http::AdminToken;
use crate::workshop::intake::Requeue;
use crate::workshop::status::GetErpState;
use crate::workshop::status::{GetEvents, TakeSample};
use crate::workshop::worker::{CheckErp, StartWorker, StopWorker};

impl ResponseError for HostError {
    fn status_code(&self) -> StatusCode {
        match self {
            HostError::NotFound(_) => StatusCode::NOT_FOUND,
            HostError::Invalid(_) => StatusCode::BAD_REQUEST,
            HostError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(json!({"error": self.to_string()}))
    }
}

type Result<T> = std::result::Result<T, HostError>;

/// Starts the management API on `listener` (the console with its default settings).
pub fn serve(
    host: Host,
    admin: AdminToken,
    listener: TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let console = Console::from_env(crate::config::ConsoleConfig::default());
    serve_with_console(host, admin, console, listener)
}

/// Starts the management API and the support console on `listener`.
pub fn serve_with_console(
    host: Host,
    admin: AdminToken,
    console: Console,
    listener: TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        let admin = admin.clone();
        let console = console.clone();
        App::new()
            .app_data(web::Data::new(host.clone()))
            .app_data(web::Data::new(admin))
            .app_data(
                web::JsonConfig::default()
                    .limit(16 * 1024)
                    .error_handler(|e, _| {
                        let reason = e.to_string();
                        actix_web::error::InternalError::from_response(
                            e,
                            HttpResponse::BadRequest().json(json!({"error": reason})),
                        )
                        .into()
                    }),
            )
            .wrap(from_fn(require_token))
            .wrap(from_fn(crate::http::routes::http_span))
            .wrap(from_fn(crate::http::deadline::body_deadline))
            .configure(routes)
            .configure(|cfg| crate::console::configure(cfg, console))
    })
    .workers(1)
    .client_disconnect_timeout(std::time::Duration::from_secs(2))
    .disable_signals()
    .shutdown_timeout(3)
    .listen(listener)?
    .run();
    Ok(server)
}

async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> std::result::Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if crate::console::is_console_path(req.path()) {
        // The console signs its people in itself; its cookie opens nothing here.
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let allowed = req
        .app_data::<web::Data<AdminToken>>()
        .is_some_and(|admin| admin.allows(req.request()));
    if !allowed {
        let response =
            HttpResponse::Unauthorized().json(json!({"error": "missing or wrong bearer token"}));
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/integrations", web::get().to(list))
        .route("/integrations/{workshop}", web::get().to(get_one))
        .route("/integrations/{workshop}", web::put().to(put_one))
        .route("/integrations/{workshop}", web::delete().to(delete_one))
        .route(
            "/integrations/{workshop}/api/{action}",
            web::put().to(api_action),
        )
        .route(
            "/integrations/{workshop}/worker/{action}",
            web::put().to(worker_action),
        )
        .route(
            "/integrations/{workshop}/erp/check",
            web::put().to(erp_check),
        )
        .route("/integrations/{workshop}/requeue", web::post().to(requeue))
        .route("/integrations/{workshop}/events", web::get().to(events))
        .route("/metrics", web::get().to(metrics));
}

async fn list(host: web::Data<Host>) -> HttpResponse {
    HttpResponse::Ok().json(host.overview().await)
}

async fn get_one(host: web::Data<Host>, name: web::Path<String>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(host.describe(&name).await?))
}

#[derive(Deserialize)]
struct PutQuery {
    #[serde(default)]
    verify: bool,
}

async fn put_one(
    host: web::Data<Host>,
    name: web::Path<String>,
    query: web::Query<PutQuery>,
    body: web::Json<IntegrationConfig>,
) -> Result<HttpResponse> {
    // password_env and a new ERP origin without the password: refused
    // (400) by the host, verify included.
    if query.verify {
        host.verify(&name, &body).await?;
    }
    let created = host.put(&name, body.into_inner()).await?;
    tracing::info!(workshop = %name, created, "integration configured");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(host.describe(&name).await?))
}

async fn delete_one(host: web::Data<Host>, name: web::Path<String>) -> Result<HttpResponse> {
    host.delete(&name).await?;
    tracing::info!(workshop = %name, "integration deleted; its log stays on disk");
    Ok(HttpResponse::Ok().json(json!({"deleted": name.as_str()})))
}

fn parse_action(action: &str) -> Result<bool> {
    match action {
        "start" => Ok(true),
        "stop" => Ok(false),
        other => Err(HostError::Invalid(format!(
            "unknown action {other:?}: use start or stop"
        ))),
    }
}

async fn api_action(
    host: web::Data<Host>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (name, action) = path.into_inner();
    let run = parse_action(&action)?;
    host.set_api(&name, run).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"workshop": name, "api": if run { "running" } else { "stopped" }})))
}

async fn worker_action(
    host: web::Data<Host>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (name, action) = path.into_inner();
    let run = parse_action(&action)?;
    let ws = host.workshop(&name).await?;
    let worker = &ws.actors.worker;
    let unavailable = |e: actix::MailboxError| HostError::Unavailable(e.to_string());
    let running = if run {
        worker
            .send(StartWorker { by_operator: true })
            .await
            .map_err(unavailable)?
    } else {
        worker
            .send(StopWorker { by_operator: true })
            .await
            .map_err(unavailable)?
    };
    Ok(HttpResponse::Ok()
        .json(json!({"workshop": name, "worker": if running { "running" } else { "stopped" }})))
}

/// `PUT .../erp/check`: a reachability check now; answers the `erp` object.
async fn erp_check(host: web::Data<Host>, path: web::Path<String>) -> Result<HttpResponse> {
    let name = path.into_inner();
    let ws = host.workshop(&name).await?;
    let unavailable = |e: actix::MailboxError| HostError::Unavailable(e.to_string());
    ws.actors.worker.send(CheckErp).await.map_err(unavailable)?;
    let erp = ws
        .actors
        .status
        .send(GetErpState)
        .await
        .map_err(unavailable)?;
    Ok(HttpResponse::Ok().json(json!({"workshop": name, "erp": erp})))
}

#[derive(Deserialize)]
struct IdQuery {
    unique_id: Option<String>,
}

async fn requeue(
    host: web::Data<Host>,
    name: web::Path<String>,
    query: web::Query<IdQuery>,
) -> Result<HttpResponse> {
    let ws = host.workshop(&name).await?;
    let requeued = ws
        .actors
        .intake
        .send(Requeue(query.unique_id.clone()))
        .await
        .map_err(|e| HostError::Unavailable(e.to_string()))?
        .map_err(|e| HostError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({"workshop": name.as_str(), "requeued": requeued})))
}

async fn events(
    host: web::Data<Host>,
    name: web::Path<String>,
    query: web::Query<IdQuery>,
) -> Result<HttpResponse> {
    let unique_id = query
        .unique_id
        .clone()
        .ok_or_else(|| HostError::Invalid("missing query parameter unique_id".into()))?;
    let ws = host.workshop(&name).await?;
    let events = ws
        .actors
        .status
        .send(GetEvents(Some(unique_id.clone())))
        .await
        .map_err(|e| HostError::Unavailable(e.to_string()))?
        .map_err(|e| HostError::Unavailable(e.to_string()))?;
    if events.is_empty() {
        return Err(HostError::NotFound(format!(
            "order {unique_id:?} in {}",
            name.as_str()
        )));
    }
    Ok(HttpResponse::Ok().json(events))
}

async fn metrics(host: web::Data<Host>) -> HttpResponse {
    let mut samples = Vec::new();
    for ws in host.workshops().await {
        if let Ok(sample) = ws.actors.status.send(TakeSample).await {
            samples.push(sample);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::telemetry::metrics::render(&samples))
}
