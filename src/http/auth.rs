//! Who may call what: the admin token (constant-time compared) for control
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
            Some(token) => {
                bearer(req).is_some_and(|given| ct_eq(given.as_bytes(), token.expose().as_bytes()))
            }
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
        .is_some_and(|given| ct_eq(given.as_bytes(), key.expose().as_bytes()))
}

/// Compares in time independent of where the first difference is.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn ct_eq_compares_exactly() {
        assert!(ct_eq(b"secret", b"secret"));
        assert!(!ct_eq(b"secret", b"secreT"));
        assert!(!ct_eq(b"secret", b"secret2"));
        assert!(!ct_eq(b"", b"x"));
        assert!(ct_eq(b"", b""));
    }
}
