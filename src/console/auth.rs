//! Who may use the console: the admin token (everything) or the support
//! token (reading and requeueing), exchanged at sign-in for a session
//! cookie; each session has its own CSRF token for the action forms.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use rand::RngCore;
use serde::Deserialize;

use super::pages::{page, Page};
use super::{html_response, root_of, ConsoleError};
use crate::config::ConsoleConfig;
use crate::secrets::Secret;

/// The environment variable holding the optional support token.
pub const SUPPORT_TOKEN_ENV: &str = "OILMAT_SUPPORT_TOKEN";
/// The environment variable holding the admin token.
const ADMIN_TOKEN_ENV: &str = "OILMAT_ADMIN_TOKEN";
/// The session cookie's name.
pub const COOKIE: &str = "oilmat_console";
/// Sessions kept at most (the oldest go first).
const MAX_SESSIONS: usize = 1000;

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// Reading and requeueing.
    Support,
}

impl Role {
    /// As recorded in the log (`by`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Support => "support",
        }
    }
}

#[derive(Debug, Clone)]
struct SessionData {
    role: Role,
    csrf: String,
    expires: Instant,
}

/// The console's settings, tokens and sessions; cheap to clone.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    config: ConsoleConfig,
    admin: Option<Secret>,
    support: Option<Secret>,
    sessions: Mutex<HashMap<String, SessionData>>,
}

fn token_from_env(var: &str) -> Option<Secret> {
    std::env::var(var)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(Secret::new)
}

impl Console {
    /// The console with the tokens of `OILMAT_ADMIN_TOKEN` and `OILMAT_SUPPORT_TOKEN`.
    pub fn from_env(config: ConsoleConfig) -> Console {
        Console::new(
            config,
            token_from_env(ADMIN_TOKEN_ENV),
            token_from_env(SUPPORT_TOKEN_ENV),
        )
    }

    /// The console with these tokens (none: it is off).
    pub fn new(config: ConsoleConfig, admin: Option<Secret>, support: Option<Secret>) -> Console {
        Console {
            inner: Arc::new(Inner {
                config,
                admin,
                support,
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// True when no token is configured: the console only says how to turn it on.
    pub fn is_off(&self) -> bool {
        self.inner.admin.is_none() && self.inner.support.is_none()
    }

    /// The `[console]` settings.
    pub fn config(&self) -> &ConsoleConfig {
        &self.inner.config
    }

    /// The role a token gives, compared in constant time.
    fn role_of(&self, given: &str) -> Option<Role> {
        let matches = |t: &Option<Secret>| {
            t.as_ref()
                .is_some_and(|t| ct_eq(given.as_bytes(), t.expose().as_bytes()))
        };
        // Both compared every time, so timing does not tell which one exists.
        let (admin, support) = (matches(&self.inner.admin), matches(&self.inner.support));
        if admin {
            Some(Role::Admin)
        } else if support {
            Some(Role::Support)
        } else {
            None
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionData>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a session; its cookie value.
    fn open_session(&self, role: Role) -> String {
        let token = random_hex();
        let now = Instant::now();
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            token.clone(),
            SessionData {
                role,
                csrf: random_hex(),
                expires: now + self.inner.config.session_length(),
            },
        );
        token
    }

    fn session(&self, token: &str) -> Option<SessionData> {
        let mut sessions = self.sessions();
        match sessions.get(token) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(token);
                None
            }
            None => None,
        }
    }

    fn close_session(&self, token: &str) {
        self.sessions().remove(token);
    }
}

/// 32 random bytes as hex.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A signed-in request: its role and its session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    /// What the session may do.
    pub role: Role,
    /// The token the action forms carry.
    pub csrf: String,
    token: String,
}

impl Session {
    /// Checks a form's CSRF token (constant time).
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), ConsoleError> {
        match given {
            Some(given) if ct_eq(given.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(ConsoleError::Forbidden(
                "the form's CSRF token is missing or wrong: reload the page and try again".into(),
            )),
        }
    }

    /// Refuses what only the admin may do.
    pub fn require_admin(&self) -> Result<(), ConsoleError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Support => Err(ConsoleError::Forbidden(
                "only the admin token may start or stop".into(),
            )),
        }
    }
}

fn cookie_value(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = Ready<Result<Session, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let signed_in = req.app_data::<web::Data<Console>>().and_then(|console| {
            let token = cookie_value(req)?;
            let data = console.session(&token)?;
            Some(Session {
                role: data.role,
                csrf: data.csrf,
                token,
            })
        });
        ready(signed_in.ok_or_else(|| {
            if req.method() == actix_web::http::Method::GET {
                ConsoleError::SignIn(format!("{}signin", root_of(req.path())))
            } else {
                ConsoleError::Unauthorized
            }
        }))
    }
}

/// True when the cookie must be marked `Secure`.
fn secure(req: &HttpRequest, console: &Console) -> bool {
    let via_https_proxy = req.peer_addr().is_some_and(|a| a.ip().is_loopback())
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    console.config().secure_cookie || via_https_proxy
}

/// The `Set-Cookie` value; no `Path`: it defaults to the console's folder,
/// wherever a reverse proxy mounts it.
fn set_cookie(value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// GET signin: the form.
pub async fn signin_form(req: HttpRequest) -> HttpResponse {
    signin_page(&req, None, actix_web::http::StatusCode::OK)
}

fn signin_page(
    req: &HttpRequest,
    error: Option<&str>,
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let root = root_of(req.path());
    let body = maud::html! {
        h1 { "Sign in" }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form.signin method="post" action=(format!("{root}signin")) {
            label for="token" { "Admin or support token" }
            input #token type="password" name="token" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    let markup = page(
        Page {
            title: "Sign in",
            root: &root,
            session: None,
        },
        body,
    );
    html_response(status, markup)
}

/// What the sign-in form posts.
#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

/// POST signin: a session cookie for a right token.
pub async fn signin(
    req: HttpRequest,
    console: web::Data<Console>,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    let Some(role) = console.role_of(form.token.trim()) else {
        tracing::warn!(peer = ?req.peer_addr(), "console sign-in refused");
        return signin_page(
            &req,
            Some("That token is not right."),
            actix_web::http::StatusCode::UNAUTHORIZED,
        );
    };
    let token = console.open_session(role);
    tracing::info!(role = role.as_str(), "console sign-in");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "./"))
        .insert_header((
            header::SET_COOKIE,
            set_cookie(
                &token,
                console.config().session_length(),
                secure(&req, &console),
            ),
        ))
        .finish()
}

/// What every action form posts.
#[derive(Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: Option<String>,
}

/// POST signout: ends the session and clears the cookie.
pub async fn signout(
    req: HttpRequest,
    console: web::Data<Console>,
    session: Session,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(form.csrf.as_deref())?;
    console.close_session(&session.token);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{}signin", root_of(req.path()))))
        .insert_header((
            header::SET_COOKIE,
            set_cookie("", Duration::ZERO, secure(&req, &console)),
        ))
        .finish())
}

/// Compares two secrets in constant time.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console() -> Console {
        Console::new(
            ConsoleConfig::default(),
            Some(Secret::new("admin-t")),
            Some(Secret::new("support-t")),
        )
    }

    #[test]
    fn tokens_give_their_roles() {
        let c = console();
        assert_eq!(c.role_of("admin-t"), Some(Role::Admin));
        assert_eq!(c.role_of("support-t"), Some(Role::Support));
        assert_eq!(c.role_of("admin-"), None);
        assert_eq!(c.role_of(""), None);
        assert!(Console::new(ConsoleConfig::default(), None, None).is_off());
    }

    #[test]
    fn sessions_open_and_close() {
        let c = console();
        let token = c.open_session(Role::Support);
        assert_eq!(token.len(), 64);
        let s = c.session(&token).unwrap();
        assert_eq!(s.role, Role::Support);
        assert_ne!(s.csrf, token);
        c.close_session(&token);
        assert!(c.session(&token).is_none());
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let v = set_cookie("abc", Duration::from_secs(60), false);
        assert_eq!(
            v,
            "oilmat_console=abc; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        assert!(set_cookie("abc", Duration::from_secs(60), true).ends_with("; Secure"));
    }
}
