//! The support console: server-rendered pages under the management listener's
//! `/console/` to find an order, see why it failed (with its screenshot) and requeue it.

mod actions;
mod assets;
mod auth;
mod order_page;
mod orders;
mod outages;
mod pages;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpResponse, ResponseError};

pub use auth::{Console, Role, SUPPORT_TOKEN_ENV};

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Mounts the console under `/console` (the JSON API's bearer check skips it).
pub fn configure(cfg: &mut web::ServiceConfig, console: Console) {
    cfg.service(
        web::scope("/console")
            .app_data(web::Data::new(console))
            .app_data(web::FormConfig::default().limit(4 * 1024))
            .wrap(from_fn(console_headers))
            .route("", web::get().to(to_console_folder))
            .route("/", web::get().to(pages::integrations))
            .route("/signin", web::get().to(auth::signin_form))
            .route("/signin", web::post().to(auth::signin))
            .route("/signout", web::post().to(auth::signout))
            .route("/static/{file}", web::get().to(assets::serve))
            .route("/search", web::get().to(pages::search))
            .route("/w/{workshop}", web::get().to(pages::workshop))
            .route("/w/{workshop}/o/{id}", web::get().to(order_page::order))
            .route(
                "/w/{workshop}/o/{id}/requeue",
                web::post().to(actions::requeue),
            )
            .route(
                "/w/{workshop}/evidence/{file}",
                web::get().to(actions::evidence),
            )
            .route(
                "/w/{workshop}/{part}/{action}",
                web::post().to(actions::start_stop),
            )
            .default_service(web::to(not_found)),
    );
}

/// True for the paths the console answers (the JSON API leaves them alone).
pub fn is_console_path(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

async fn to_console_folder() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "console/"))
        .finish()
}

async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound("no such page".into()))
}

/// Adds the CSP and its companions to every console response, and answers
/// every page with "off" when no token is configured.
async fn console_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let off = req
        .app_data::<web::Data<Console>>()
        .is_none_or(|c| c.is_off());
    let is_asset = req.path().starts_with("/console/static/");
    let mut res = if off && !is_asset {
        let root = root_of(req.path());
        let response = html_response(StatusCode::SERVICE_UNAVAILABLE, pages::off_page(&root));
        req.into_response(response).map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    let headers = res.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in set {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

/// The relative way from a console path back to the console's root folder
/// (`./`, `../`, ...), so that links work under any path prefix.
pub fn root_of(path: &str) -> String {
    let rest = path.strip_prefix("/console/").unwrap_or("");
    let depth = rest.split('/').count();
    if depth <= 1 {
        "./".to_string()
    } else {
        "../".repeat(depth - 1)
    }
}

/// What [`segment`] encodes: everything but letters, digits, `-`, `_`, `~`
/// (a `.` too, so that no id reads as `..`).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// A path segment or query value, percent-encoded.
pub fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// An HTML page as a response.
pub fn html_response(status: StatusCode, markup: maud::Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// What a console request can come to instead of its page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A page without a session: go and sign in (the relative location).
    #[error("sign in first")]
    SignIn(String),
    /// An action without a session.
    #[error("sign in first")]
    Unauthorized,
    /// Not allowed (CSRF, role, path).
    #[error("{0}")]
    Forbidden(String),
    /// No such workshop, order or file.
    #[error("{0}")]
    NotFound(String),
    /// Not possible now (an order that is not failed, say).
    #[error("{0}")]
    Conflict(String),
    /// The workshop does not answer.
    #[error("{0}")]
    Unavailable(String),
}

impl From<crate::host::HostError> for ConsoleError {
    fn from(e: crate::host::HostError) -> Self {
        match e {
            crate::host::HostError::NotFound(_) => ConsoleError::NotFound(e.to_string()),
            crate::host::HostError::Invalid(_) => ConsoleError::Conflict(e.to_string()),
            crate::host::HostError::Unavailable(_) => ConsoleError::Unavailable(e.to_string()),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn(_) => StatusCode::SEE_OTHER,
            ConsoleError::Unauthorized => StatusCode::UNAUTHORIZED,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::SignIn(location) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location.as_str()))
                .finish();
        }
        let message = self.to_string();
        let markup = maud::html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { "Support console: " (message) } }
                body { main { h1 { (self.status_code().canonical_reason().unwrap_or("Error")) } p { (message) } } }
            }
        };
        html_response(self.status_code(), markup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_reached_relatively() {
        assert_eq!(root_of("/console/"), "./");
        assert_eq!(root_of("/console/signin"), "./");
        assert_eq!(root_of("/console/w/alpha"), "../");
        assert_eq!(root_of("/console/w/alpha/o/a%2Fb"), "../../../");
        assert_eq!(root_of("/console/w/alpha/o/x/requeue"), "../../../../");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("a/b c-d_e"), "a%2Fb%20c-d_e");
        assert_eq!(segment("../x"), "%2E%2E%2Fx");
    }
}
