//! What the console does besides showing: requeue an order, start and stop
//! a workshop's API or worker (each recorded in the workshop's log with who
//! did it), and serve a failed attempt's evidence from the workshop's
//! evidence folder only.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::{CsrfForm, Role, Session};
use super::order_page::is_evidence_name;
use super::{root_of, segment, ConsoleError};
use crate::event_log::Status;
use crate::host::Host;
use crate::workshop::intake::{RecordOperatorAction, Requeue};
use crate::workshop::status::GetStatus;
use crate::workshop::worker::{StartWorker, StopWorker};
use crate::workshop::Workshop;

fn unavailable(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Unavailable(e.to_string())
}

/// Writes who did what into the workshop's log (a failure to do so is logged).
async fn record(ws: &Workshop, unique_id: Option<String>, action: &str, by: Role) {
    tracing::info!(workshop = %ws.settings.name, unique_id = ?unique_id, action, by = by.as_str(), "console action");
    let message = RecordOperatorAction {
        unique_id,
        action: action.to_string(),
        by: by.as_str().to_string(),
    };
    match ws.actors.intake.send(message).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(workshop = %ws.settings.name, error = %e, "console action not recorded")
        }
        Err(e) => {
            tracing::warn!(workshop = %ws.settings.name, error = %e, "console action not recorded")
        }
    }
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// POST `w/{workshop}/o/{id}/requeue`: a failed order back on the task queue.
pub async fn requeue(
    req: HttpRequest,
    host: web::Data<Host>,
    session: Session,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(form.csrf.as_deref())?;
    let (name, id) = path.into_inner();
    let ws = host.workshop(&name).await?;
    let status = ws
        .actors
        .status
        .send(GetStatus(id.clone()))
        .await
        .map_err(unavailable)?;
    match status {
        None => return Err(ConsoleError::NotFound(format!("no order {id:?} in {name}"))),
        Some((Status::Failed, _)) => {}
        Some((other, _)) => {
            return Err(ConsoleError::Conflict(format!(
                "order {id} is {}, not failed: nothing to requeue",
                other.as_str()
            )))
        }
    }
    let requeued = ws
        .actors
        .intake
        .send(Requeue(Some(id.clone())))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    if requeued > 0 {
        record(&ws, Some(id.clone()), "requeue", session.role).await;
    }
    let root = root_of(req.path());
    Ok(see_other(format!(
        "{root}w/{}/o/{}",
        segment(&name),
        segment(&id)
    )))
}

/// POST `w/{workshop}/{api|worker}/{start|stop}` (admin only).
pub async fn start_stop(
    req: HttpRequest,
    host: web::Data<Host>,
    session: Session,
    path: web::Path<(String, String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(form.csrf.as_deref())?;
    session.require_admin()?;
    let (name, part, action) = path.into_inner();
    let run = match action.as_str() {
        "start" => true,
        "stop" => false,
        _ => return Err(ConsoleError::NotFound("no such action".into())),
    };
    match part.as_str() {
        "api" => host.set_api(&name, run).await?,
        "worker" => {
            let ws = host.workshop(&name).await?;
            let worker = &ws.actors.worker;
            if run {
                worker.send(StartWorker { by_operator: true }).await
            } else {
                worker.send(StopWorker { by_operator: true }).await
            }
            .map_err(unavailable)?;
        }
        _ => return Err(ConsoleError::NotFound("no such part".into())),
    }
    if let Ok(ws) = host.workshop(&name).await {
        record(&ws, None, &format!("{action} {part}"), session.role).await;
    }
    Ok(see_other(root_of(req.path())))
}

/// GET `w/{workshop}/evidence/{file}`: a screenshot as PNG, a page source
/// as plain text (never rendered); only plain names inside the evidence folder.
pub async fn evidence(
    host: web::Data<Host>,
    _session: Session,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (name, file) = path.into_inner();
    if !is_evidence_name(&file) {
        return Err(ConsoleError::Forbidden(
            "only evidence files of this workshop are served".into(),
        ));
    }
    let ws = host.workshop(&name).await?;
    let dir = ws.settings.evidence_dir();
    let gone = || ConsoleError::NotFound("evidence pruned".into());
    let dir = dir.canonicalize().map_err(|_| gone())?;
    let full = dir.join(&file).canonicalize().map_err(|_| gone())?;
    if full.parent() != Some(dir.as_path()) || !full.is_file() {
        return Err(ConsoleError::Forbidden(
            "only evidence files of this workshop are served".into(),
        ));
    }
    let bytes = web::block(move || std::fs::read(full))
        .await
        .map_err(unavailable)?
        .map_err(|_| gone())?;
    let content_type = if file.ends_with(".png") {
        "image/png"
    } else {
        "text/plain; charset=utf-8"
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .body(bytes))
}
