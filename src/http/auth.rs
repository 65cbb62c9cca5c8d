//! Who may call what: the admin token (compared in constant time, by
//! [`Secret::matches`]) for control
//! endpoints, callers local in every way ([`is_local`]) only when no token
//! is configured, and the workshop's `X-Api-Key` for `/create`.

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
            None => is_local(req),
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

/// True when the caller is local in every way (interfaces.md): it connected
/// over loopback, its `Host` header names loopback (any port), and it came
/// through no proxy (no `Forwarded`, `X-Forwarded-*` or `X-Real-IP`): a
/// reverse proxy on the same machine makes every caller look local.
pub fn is_local(req: &HttpRequest) -> bool {
    let peer_local = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    let host_local = req
        .headers()
        .get("host")
        .and_then(|v| v.to_str().ok())
        .is_some_and(names_loopback);
    let proxied = req.headers().keys().any(|name| {
        let name = name.as_str();
        name == "forwarded" || name == "x-real-ip" || name.starts_with("x-forwarded-")
    });
    peer_local && host_local && !proxied
}

/// Does a `Host` header value name loopback (`localhost`, `127.0.0.1`,
/// `[::1]`, with or without a port)?
fn names_loopback(host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, port)) if port.is_empty() || valid_port(port) => inside.to_string(),
            _ => return false,
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) if valid_port(port) => name.to_string(),
            Some(_) => return false,
            None => host,
        }
    };
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1")
}

fn valid_port(port: &str) -> bool {
    port.strip_prefix(':')
        .unwrap_or(port)
        .parse::<u16>()
        .is_ok()
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
            .insert_header(("host", "127.0.0.1:5000"))
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .to_http_request()
    }

    fn request(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        req.to_http_request()
    }

    #[test]
    fn local_means_local_in_every_way() {
        let local = "127.0.0.1:4000";
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            assert!(is_local(&request(local, &[("host", host)])), "{host}");
            assert!(
                is_local(&request("[::1]:4000", &[("host", host)])),
                "{host}"
            );
        }
        for host in [
            "erp.example",
            "10.0.0.1:5000",
            "localhost.evil",
            "127.0.0.1:x",
            "[::1]x",
            "",
        ] {
            assert!(!is_local(&request(local, &[("host", host)])), "{host:?}");
        }
        assert!(!is_local(&request(local, &[])), "no Host header");
        assert!(!is_local(&request(
            "10.0.0.7:4000",
            &[("host", "localhost")]
        )));
        for proxy in [
            "x-forwarded-for",
            "X-Forwarded-Host",
            "x-forwarded-proto",
            "forwarded",
            "x-real-ip",
        ] {
            let req = request(local, &[("host", "localhost"), (proxy, "203.0.113.9")]);
            assert!(!is_local(&req), "{proxy}");
            assert!(!AdminToken::default().allows(&req), "{proxy}");
        }
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
