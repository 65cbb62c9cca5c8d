//! The support console under `serve`: sign-in with the admin or support
//! token, the session cookie and its limits, CSRF and CSP, a failed order's
//! page with its screenshot and page source, requeue recorded with who did
//! it, and no way out of the evidence folder.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::Url;
use serde_json::{json, Value};

use oilmat_testkit::*;

const SUPPORT: &str = "test-support-token-4242";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// A browser-less console user: no redirects followed, its cookie kept by hand.
struct Visitor {
    http: Client,
    base: Url,
    cookie: Option<String>,
}

impl Visitor {
    fn new(host: &HostUnderTest) -> Visitor {
        Visitor {
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .no_proxy()
                .build()
                .unwrap(),
            base: Url::parse(&format!("{}/console/", host.proc.url)).unwrap(),
            cookie: None,
        }
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    /// Every console answer carries the CSP.
    fn checked(r: Response) -> Response {
        let csp = r
            .headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(csp.as_deref(), Some(CSP), "CSP on {}", r.url());
        r
    }

    fn get(&self, url: Url) -> Response {
        let mut req = self.http.get(url);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        Self::checked(req.send().unwrap())
    }

    fn post(&self, url: Url, form: &[(&str, &str)]) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        Self::checked(req.send().unwrap())
    }

    /// Signs in; the raw `Set-Cookie`.
    fn sign_in(&mut self, token: &str) -> String {
        let r = self.post(self.url("signin"), &[("token", token)]);
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers()[LOCATION], "./");
        let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
        self.cookie = Some(set.split(';').next().unwrap().to_string());
        set
    }

    /// A page's text, asserting 200.
    fn page(&self, path: &str) -> String {
        let r = self.get(self.url(path));
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.text().unwrap()
    }
}

/// The value of the first `name="csrf"` field of a page.
fn csrf(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

/// The first value of `attr="` after `marker`.
fn attr_after(page: &str, marker: &str, attr: &str) -> String {
    let from = page
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {page}"));
    let rest = &page[from..];
    let at = rest.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
    rest[at..].split('"').next().unwrap().replace("&amp;", "&")
}

fn post_item(port: u16, id: &str, item: &str) -> u16 {
    let body = json!({"workshop": "w", "case_id": "100", "product_nr": item, "product_amount": "2", "unique_id": id});
    client()
        .post(format!("http://127.0.0.1:{port}/create"))
        .body(body.to_string())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn events(host: &HostUnderTest, id: &str) -> Vec<Value> {
    let (code, events) = host.get(&format!("/integrations/alpha/events?unique_id={id}"));
    assert_eq!(code, 200, "{events}");
    events.as_array().unwrap().clone()
}

#[test]
fn the_console_shows_a_failed_order_with_its_evidence_and_requeues_it() {
    let sb = Sandbox::start("au2office");
    sb.case("100", "open");
    sb.item("10");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("oilmat.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"
[management]
listen = "127.0.0.1:0"
[console]
dashboard_url = "http://grafana.test/d/oilmat?var-workshop={{workshop}}"
trace_url = "http://traces.test/trace/{{trace_id}}"
[workshops.alpha]
erp_type = "au2office"
erp_url = "{erp}"
port = {port}
listen = "127.0.0.1"
username = "{USER}"
password = "{PASSWORD}"
"#,
            data = dir.path().join("data").display(),
            erp = sb.url()
        ),
    )
    .unwrap();
    let proc = Proc::oilmat(
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("RUST_LOG", TEST_LOG),
            ("OILMAT_ADMIN_TOKEN", TOKEN),
            ("OILMAT_SUPPORT_TOKEN", SUPPORT),
        ],
        "console-host",
    );
    let host = HostUnderTest {
        proc,
        http: client(),
    };
    let mut support = Visitor::new(&host);

    // Without a session every page goes to the sign-in form.
    let r = support.get(support.url(""));
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()[LOCATION], "./signin");
    let r = support.get(support.url("w/alpha/o/x"));
    assert_eq!(r.headers()[LOCATION], "../../../signin");
    assert!(support.page("signin").contains(r#"type="password""#));
    // A wrong token is refused and gets no cookie.
    let r = support.post(support.url("signin"), &[("token", "not-a-token")]);
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get(SET_COOKIE).is_none());

    // The support token signs in; the cookie is HttpOnly, SameSite=Strict, expiring.
    let set = support.sign_in(SUPPORT);
    assert!(set.contains("; HttpOnly"), "{set}");
    assert!(set.contains("; SameSite=Strict"), "{set}");
    assert!(set.contains("; Max-Age="), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP from loopback: {set}");
    // The cookie alone never opens the JSON API.
    let r = client()
        .get(format!("{}/integrations", host.proc.url))
        .header(COOKIE, support.cookie.as_deref().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // An order for an unknown item fails for good.
    assert_eq!(post_item(port, "c-bad", "999"), 200);
    wait_until("c-bad failed", Duration::from_secs(120), || {
        order_status(port, "c-bad")["status"] == "failed"
    });

    // The integrations page lists it with its error queue.
    let overview = support.page("");
    assert!(overview.contains(r#"href="./w/alpha""#), "{overview}");
    assert!(overview.contains("au2office"));
    assert!(
        !overview.contains("Stop worker"),
        "support sees no start/stop"
    );
    // The workshop page lists the order, filtered, with the dashboard link.
    let list = support.page("w/alpha?status=failed&q=c-b");
    assert!(list.contains("c-bad"), "{list}");
    assert!(list.contains("http://grafana.test/d/oilmat?var-workshop=alpha"));
    assert!(!support.page("w/alpha?status=completed").contains("c-bad"));
    // Search by unique id finds its page.
    let r = support.get(support.url("search?unique_id=c-bad"));
    assert_eq!(r.headers()[LOCATION], "./w/alpha/o/c-bad");

    // Its page: reason, failure kind, trace link, the screenshot and the page source.
    let order_url = support.url("w/alpha/o/c-bad");
    let page = support.page("w/alpha/o/c-bad");
    assert!(page.contains("unknown item"), "{page}");
    assert!(page.contains("<code>unknown_item</code>"), "{page}");
    assert!(page.contains("http://traces.test/trace/"), "{page}");
    let img = attr_after(&page, r#"<img class="evidence""#, "src");
    let r = support.get(order_url.join(&img).unwrap());
    assert_eq!(r.status().as_u16(), 200, "{img}");
    assert_eq!(r.headers()[CONTENT_TYPE], "image/png");
    assert!(r.bytes().unwrap().starts_with(b"\x89PNG"));
    let href = {
        let at = page.find("Page source of attempt").unwrap();
        let before = &page[..at];
        let start = before.rfind("href=\"").unwrap() + 6;
        before[start..].split('"').next().unwrap().to_string()
    };
    let r = support.get(order_url.join(&href).unwrap());
    assert_eq!(r.status().as_u16(), 200, "{href}");
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(
        r.text().unwrap().contains("<html"),
        "the page source, as text"
    );

    // No way out of the evidence folder.
    for evil in [
        "w/alpha/evidence/..%2F..%2Foilmat.toml",
        "w/alpha/evidence/%2E%2E%2Fjournal",
        "w/alpha/evidence/..%2Fcredentials.png",
        "w/alpha/evidence/%2Fetc%2Fpasswd",
    ] {
        let r = support.get(support.url(evil));
        let code = r.status().as_u16();
        assert!(code == 403 || code == 404, "{evil}: {code}");
    }

    // Support may not start or stop, even with the right CSRF token.
    let token = csrf(&page);
    for action in ["worker/stop", "api/stop", "worker/start"] {
        let r = support.post(
            support.url(&format!("w/alpha/{action}")),
            &[("csrf", &token)],
        );
        assert_eq!(r.status().as_u16(), 403, "{action}");
    }
    assert_eq!(host.integration("alpha")["worker"], "running");

    // A requeue without the CSRF token, or with a wrong one, is refused.
    let requeue = order_url.join("c-bad/requeue").unwrap();
    assert_eq!(support.post(requeue.clone(), &[]).status().as_u16(), 403);
    let r = support.post(requeue.clone(), &[("csrf", "0000")]);
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(order_status(port, "c-bad")["status"], "failed");

    // With the item on the ERP, requeue from the page puts the order back and it completes.
    sb.item("999");
    let r = support.post(requeue, &[("csrf", &token)]);
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()[LOCATION], "../../../../w/alpha/o/c-bad");
    let now = order_status(port, "c-bad")["status"].clone();
    assert!(
        ["received", "processing", "completed"].contains(&now.as_str().unwrap()),
        "{now}"
    );
    wait_completed(port, "c-bad");
    assert!(support
        .page("w/alpha/o/c-bad")
        .contains("requeue by support"));
    let log = events(&host, "c-bad");
    assert!(
        log.iter().any(|e| e["kind"] == "operator action"
            && e["action"] == "requeue"
            && e["by"] == "support"),
        "{log:?}"
    );

    // The admin may stop and start the worker; that too is in the log with who did it.
    let mut admin = Visitor::new(&host);
    admin.sign_in(TOKEN);
    let overview = admin.page("");
    assert!(overview.contains("Stop worker"), "{overview}");
    let token = csrf(&overview);
    let r = admin.post(admin.url("w/alpha/worker/stop"), &[("csrf", &token)]);
    assert_eq!(r.status().as_u16(), 303);
    wait_until("worker stopped", Duration::from_secs(30), || {
        host.integration("alpha")["worker"] == "stopped"
    });
    let r = admin.post(admin.url("w/alpha/worker/start"), &[("csrf", &token)]);
    assert_eq!(r.status().as_u16(), 303);
    wait_until("worker running", Duration::from_secs(30), || {
        host.integration("alpha")["worker"] == "running"
    });
    let list = admin.page("w/alpha");
    assert!(
        list.contains("stop worker by admin") && list.contains("start worker by admin"),
        "{list}"
    );

    // Signing out ends the session: the old cookie opens nothing.
    let r = support.post(support.url("signout"), &[("csrf", &csrf(&page))]);
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(support.get(support.url("")).status().as_u16(), 303);
    assert_eq!(
        support
            .post(support.url("w/alpha/o/c-bad/requeue"), &[("csrf", "x")])
            .status()
            .as_u16(),
        401
    );
}

#[test]
fn without_a_token_the_console_says_how_to_turn_it_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("oilmat.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let proc = Proc::oilmat(
        &["serve", "--config", config.to_str().unwrap()],
        &[("RUST_LOG", TEST_LOG)],
        "console-off",
    );
    let r = client()
        .get(format!("{}/console/", proc.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["content-security-policy"], CSP);
    let text = r.text().unwrap();
    assert!(text.contains("OILMAT_ADMIN_TOKEN") && text.contains("OILMAT_SUPPORT_TOKEN"));
}
