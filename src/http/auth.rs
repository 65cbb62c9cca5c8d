//! Who may call what: the admin token (compared in constant time, by
//! [`Secret::matches`]) for control
//! endpoints, loopback callers only when no token is configured, and the
//! workshop's `X-Api-Key` for `/create`.

use actix_web::HttpRequest;

use crate::secrets::Secret;

/// The environment variable holding the admin token.
pub const ADMIN_TOKEN_ENV: &str = "OILMAT_ADMIN_TOKEN";

/// The admin token, if one is configured.
#[derive(Debug, Clone, Default)]
pub struct AdminToken(Option<Secret>);

impl AdminToken {
    /// Reads `OILMAT_ADMIN_TOKEN` (empty counts as unset).
    pub fn from_env() -> AdminToken {
        AdminToken(
            std::env::var(ADMIN_TOKEN_ENV)
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(Secret::new),
        )
    }

    /// True when a token is configured.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// May this request use control endpoints?
    pub fn allows(&self, req: &HttpRequest) -> bool {
        match &self.0 {
            Some(token) => bearer(req).is_some_and(|given| token.matches(given)),
            None => is_loopback(req),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// True when the caller connected over loopback.
pub fn is_loopback(req: &HttpRequest) -> bool {
    req.peer_addr().is_some_and(|a| a.ip().is_loopback())
}

/// Does `/create` carry the workshop's API key (when it has one)?
pub fn api_key_ok(req: &HttpRequest, key: Option<&Secret>) -> bool {
    let Some(key) = key else {
        return true;
    };
    req.headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| key.matches(given))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn with_header(name: &str, value: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header((name, value))
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .to_http_request()
    }

    #[test]
    fn the_api_key_must_match_exactly() {
        let key = Secret::new("k3y");
        assert!(api_key_ok(&with_header("x-api-key", "k3y"), Some(&key)));
        assert!(!api_key_ok(&with_header("x-api-key", "k3Y"), Some(&key)));
        assert!(!api_key_ok(&with_header("x-api-key", "k3y2"), Some(&key)));
        assert!(!api_key_ok(&with_header("x-other", "k3y"), Some(&key)));
        assert!(api_key_ok(&with_header("x-other", "k3y"), None));
    }

    #[test]
    fn a_set_token_is_needed_even_on_loopback() {
        let admin = AdminToken(Some(Secret::new("t0ken")));
        assert!(admin.allows(&with_header("authorization", "Bearer t0ken")));
        assert!(!admin.allows(&with_header("authorization", "Bearer t0keN")));
        assert!(!admin.allows(&with_header("authorization", "t0ken")));
        assert!(AdminToken::default().allows(&with_header("x-other", "")));
    }
}
