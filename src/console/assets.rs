//! The console's static assets: its style sheet, its icon and the script that
//! refreshes the live part of a page (no inline scripts or styles).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::ConsoleError;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const ICON: &str = include_str!("assets/favicon.svg");

/// GET static/{file}.
pub async fn serve(file: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    let (body, content_type) = match file.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (ICON, "image/svg+xml"),
        _ => return Err(ConsoleError::NotFound("no such asset".into())),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .body(body))
}
