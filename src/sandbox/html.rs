//! What the pages of both ERP types share: the session cookie, redirects,
//! HTML responses, the page layout and filling `{{name}}` placeholders of the
//! asset templates, escaping and URL encoding.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

/// The name of the session cookie.
const SESSION_COOKIE: &str = "SBSESSION";

/// The layout of every page: `{{title}}` and `{{body}}`.
const PAGE_HTML: &str = include_str!("page.html");

/// The session token from the request's `Cookie` headers.
pub(super) fn session_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// A 303 redirect to `location` that also sets the session cookie.
pub(super) fn redirect_with_session(location: &str, token: &str) -> HttpResponse {
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::SET_COOKIE, cookie))
        .finish()
}

/// A 303 redirect to `location`.
pub(super) fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// An HTML response.
pub(super) fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// A JSON error body `{"error": message}`.
pub(super) fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

/// A whole HTML page; `title` is escaped here, `body` must already be.
pub(super) fn page(title: &str, body: &str) -> String {
    fill(PAGE_HTML, &[("title", &html_escape(title)), ("body", body)])
}

/// Replaces each `{{name}}` in `template` with its value, in one pass (a
/// value is never searched for placeholders); unknown names stay as they are.
pub(super) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let found = after.find("}}").and_then(|end| {
            let name = &after[..end];
            let value = values.iter().find(|(n, _)| *n == name)?.1;
            Some((end, value))
        });
        match found {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML content and quoted attribute values.
pub(super) fn html_escape(text: &str) -> String {
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
pub(super) fn url_encode(text: &str, keep_slash: bool) -> String {
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
pub(super) fn path_and_query(req: &HttpRequest) -> String {
    match req.uri().query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_owned(),
    }
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

    #[test]
    fn fill_replaces_known_placeholders_once() {
        let filled = fill(
            "a {{x}} b {{y}} {{unknown}} {{ {x}",
            &[("x", "{{y}}"), ("y", "2")],
        );
        assert_eq!(filled, "a {{y}} b 2 {{unknown}} {{ {x}");
    }

    #[test]
    fn page_escapes_the_title_and_keeps_the_body() {
        let html = page("a<b", "<p>{{x}}</p>");
        assert!(html.contains("<title>a&lt;b</title>"));
        assert!(html.contains("<body>\n<p>{{x}}</p>\n</body>"));
    }
}
