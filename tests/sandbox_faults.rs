//! The sandbox ERP's faults for the behaviours of erp-ui.md "Common to
//! both" (slow commits, re-rendered lines, short reference fields, outages),
//! checked over plain HTTP against an in-process sandbox of each type.

use std::time::{Duration, Instant};

use oilmat_erp::erp::ErpType;
use oilmat_testkit::in_process::{
    DriverBench, InProcessSandbox as Sandbox, DRIVER_PASSWORD as PASSWORD, DRIVER_USER as USER,
};
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

const KINDS: [ErpType; 2] = [ErpType::Au2office, ErpType::Admanager];

/// A sandbox with case 1001, item 0815 and a logged-in HTTP client.
struct Erp {
    sandbox: Sandbox,
    http: Client,
    cookie: String,
}

impl Erp {
    async fn start(kind: ErpType) -> Erp {
        let sandbox = Sandbox::start(kind).await;
        sandbox.case("1001", "open").await;
        sandbox.item("0815", "Motorolie 5W-30").await;
        let http = Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut erp = Erp {
            sandbox,
            http,
            cookie: String::new(),
        };
        erp.log_in().await;
        erp
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base)
    }

    async fn log_in(&mut self) {
        let (path, body) = match self.sandbox.erp {
            ErpType::Au2office => (
                "/login",
                form(&[("username", USER), ("password", PASSWORD)]),
            ),
            ErpType::Admanager => (
                "/Account/Login",
                form(&[("UserName", USER), ("Password", PASSWORD)]),
            ),
        };
        let r = self.post_form(path, body).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "login");
        let set = r.headers()[SET_COOKIE].to_str().expect("cookie");
        self.cookie = set.split(';').next().expect("pair").to_owned();
    }

    async fn post_form(&self, path: &str, body: String) -> Response {
        self.http
            .post(self.url(path))
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("post")
    }

    async fn get(&self, path: &str) -> reqwest::Result<Response> {
        self.http
            .get(self.url(path))
            .header(COOKIE, &self.cookie)
            .send()
            .await
    }

    /// The HTML that holds case 1001's lines and reference input.
    async fn lines_page(&self) -> String {
        let path = match self.sandbox.erp {
            ErpType::Au2office => "/cases/1001",
            ErpType::Admanager => "/WorkOrder/Lines?id=1001",
        };
        let r = self.get(path).await.expect("page");
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.expect("html")
    }

    /// Saves a line on case 1001 the way the ERP's page does.
    async fn save(&self, reference: &str) -> reqwest::Result<Response> {
        match self.sandbox.erp {
            ErpType::Au2office => {
                let body = json!({"item_no": "0815", "qty": "4,5", "reference": reference});
                self.http
                    .post(self.url("/api/case/lines?id=1001"))
                    .header(COOKIE, &self.cookie)
                    .json(&body)
                    .send()
                    .await
            }
            ErpType::Admanager => {
                let fields = [("VareNr", "0815"), ("Antal", "4,5"), ("Note", reference)];
                self.http
                    .post(self.url("/WorkOrder/Lines?id=1001"))
                    .header(COOKIE, &self.cookie)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form(&fields))
                    .send()
                    .await
            }
        }
    }

    /// The answer to a save that was stored and confirmed.
    fn confirmed(&self) -> StatusCode {
        match self.sandbox.erp {
            ErpType::Au2office => StatusCode::CREATED,
            ErpType::Admanager => StatusCode::SEE_OTHER,
        }
    }

    async fn faults(&self) -> Value {
        let r = self.get("/_sandbox/faults").await.expect("faults");
        r.json().await.expect("json")
    }
}

/// An `application/x-www-form-urlencoded` body.
fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Polls `check` every 20 ms until it holds or `limit` has passed.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_reference_maxlength_is_on_the_input_and_cuts_the_stored_reference() {
    for kind in KINDS {
        let erp = Erp::start(kind).await;
        erp.sandbox.faults(json!({"reference_maxlength": 10})).await;
        let html = erp.lines_page().await;
        match kind {
            ErpType::Au2office => {
                // The dialog is built by the page's JS from this attribute.
                assert!(html.contains(r#"data-reference-maxlength="10""#), "{html}");
                assert!(html.contains("ref.maxLength = referenceMaxlength"));
            }
            ErpType::Admanager => {
                assert!(
                    html.contains(r#"id="txtNote" name="Note" autocomplete="off" maxlength="10""#),
                    "{html}"
                );
            }
        }
        let saved = erp.save("OilMat 0123456789").await.expect("save");
        assert_eq!(saved.status(), erp.confirmed(), "{kind}");
        let lines = erp.sandbox.lines("1001").await;
        assert_eq!(lines, vec![("0815".into(), 4.5, "OilMat 012".into())]);

        erp.sandbox
            .faults(json!({"reference_maxlength": null}))
            .await;
        assert!(!erp.lines_page().await.contains(r#"maxlength="10""#));
    }
}

#[tokio::test]
async fn an_erp_that_is_down_answers_503_a_maintenance_page_or_nothing() {
    for kind in KINDS {
        let erp = Erp::start(kind).await;
        let (login, landmark) = match kind {
            ErpType::Au2office => ("/login", r#"id="login-form""#),
            ErpType::Admanager => ("/Account/Login", r#"id="btnLogin""#),
        };
        erp.sandbox.faults(json!({"down": "503"})).await;
        let r = erp.get(login).await.expect("answer");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{kind}");
        assert_eq!(
            erp.faults().await["down"],
            "503",
            "the control API still answers"
        );

        erp.sandbox.faults(json!({"down": "maintenance"})).await;
        let r = erp.get(login).await.expect("answer");
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.expect("html");
        assert!(!page.contains(landmark), "{page}");
        assert!(!erp.lines_page().await.contains("1001"));

        erp.sandbox.faults(json!({"down": "close"})).await;
        let closed = erp.get(login).await;
        assert!(closed.is_err(), "no answer expected: {closed:?}");

        erp.sandbox.faults(json!({"down": null})).await;
        let r = erp.get(login).await.expect("answer");
        assert!(r.text().await.expect("html").contains(landmark));
        assert_eq!(erp.sandbox.lines("1001").await, vec![]);
    }
}

#[tokio::test]
async fn a_slow_commit_stores_the_line_only_after_its_delay() {
    for kind in KINDS {
        let erp = Erp::start(kind).await;
        let hold = Duration::from_secs(2);
        erp.sandbox
            .faults(json!({"slow_commit": {"saves": 1, "secs": 2}}))
            .await;
        let started = Instant::now();
        let mut save = Box::pin(erp.save("OilMat s-1"));
        let taken = tokio::select! {
            answer = &mut save => panic!("{kind}: answered before its commit: {answer:?}"),
            taken = eventually(Duration::from_secs(10), || async {
                erp.faults().await["slow_commit_saves"] == 0
            }) => taken,
        };
        assert!(taken, "{kind}: the save never reached the ERP");
        // The browser gives up waiting (the request is cancelled) before the commit.
        drop(save);
        if started.elapsed() < hold {
            assert_eq!(
                erp.sandbox.lines("1001").await,
                vec![],
                "{kind}: stored early"
            );
        }
        let landed = eventually(Duration::from_secs(15), || async {
            !erp.sandbox.lines("1001").await.is_empty()
        })
        .await;
        assert!(landed, "{kind}: the held save never landed");
        assert!(started.elapsed() >= hold, "{kind}: stored before its delay");
        let lines = erp.sandbox.lines("1001").await;
        assert_eq!(lines, vec![("0815".into(), 4.5, "OilMat s-1".into())]);

        // A held save whose client waits is answered once it is stored.
        erp.sandbox
            .faults(json!({"slow_commit_saves": 1, "slow_commit_ms": 300}))
            .await;
        let answered = erp.save("OilMat s-2").await.expect("answer");
        assert_eq!(answered.status(), erp.confirmed());
        assert_eq!(erp.sandbox.lines("1001").await.len(), 2);
    }
}

#[tokio::test]
async fn lines_are_re_rendered_by_the_page_when_asked() {
    for kind in KINDS {
        let erp = Erp::start(kind).await;
        let attribute = r#"data-rerender-lines-ms="40""#;
        assert!(!erp.lines_page().await.contains(attribute));
        erp.sandbox.faults(json!({"rerender_lines_ms": 40})).await;
        let html = erp.lines_page().await;
        assert!(html.contains(attribute), "{kind}: {html}");
        assert!(
            html.contains("cloneNode(true)"),
            "{kind}: no re-render script"
        );
        assert_eq!(erp.faults().await["rerender_lines_ms"], 40);
    }
}

/// In a real browser: the reference input carries the `maxlength`, and the
/// lines are replaced by new elements (the old ones go stale) while the
/// re-render fault is on.
#[tokio::test]
async fn in_a_browser_the_maxlength_holds_and_old_rows_go_stale() {
    use thirtyfour::prelude::*;
    for kind in KINDS {
        let mut bench = DriverBench::start(kind, Duration::from_secs(10)).await;
        let sb = &bench.sandbox;
        sb.case("1001", "open").await;
        sb.item("0815", "Motorolie 5W-30").await;
        sb.faults(json!({"rerender_lines_ms": 40, "reference_maxlength": 10}))
            .await;
        let base = sb.base.clone();
        let d = bench.browser.driver().await.expect("driver").clone();
        let (login, user, password, submit, home) = match kind {
            ErpType::Au2office => (
                "/login",
                "input[name=username]",
                "input[name=password]",
                "#login-button",
                "nav#main-nav",
            ),
            ErpType::Admanager => (
                "/Account/Login",
                "#UserName",
                "#Password",
                "#btnLogin",
                "div#menu",
            ),
        };
        d.goto(format!("{base}{login}")).await.expect("login page");
        d.find(By::Css(user))
            .await
            .expect("user")
            .send_keys(USER)
            .await
            .expect("type");
        let pw = d.find(By::Css(password)).await.expect("password");
        pw.send_keys(PASSWORD).await.expect("type");
        d.find(By::Css(submit))
            .await
            .expect("submit")
            .click()
            .await
            .expect("click");
        wait_for(&d, home).await;
        let (reference, row) = match kind {
            ErpType::Au2office => {
                d.goto(format!("{base}/cases/1001")).await.expect("case");
                wait_for(&d, "button#add-line")
                    .await
                    .click()
                    .await
                    .expect("add");
                let item = wait_for(&d, "input#line-item-no").await;
                item.send_keys("0815").await.expect("type");
                let qty = d.find(By::Css("input#line-qty")).await.expect("qty");
                qty.send_keys("4,5").await.expect("type");
                let reference = d.find(By::Css("input#line-reference")).await.expect("ref");
                reference
                    .send_keys("OilMat b-1-too-long")
                    .await
                    .expect("type");
                let max = reference.attr("maxlength").await.expect("attr");
                d.find(By::Css("button#line-save"))
                    .await
                    .expect("save")
                    .click()
                    .await
                    .expect("click");
                (max, "table#order-lines tbody tr.order-line")
            }
            ErpType::Admanager => {
                d.goto(format!("{base}/WorkOrder/Edit?id=1001"))
                    .await
                    .expect("case");
                wait_for(&d, "iframe#linesFrame")
                    .await
                    .enter_frame()
                    .await
                    .expect("frame");
                let item = wait_for(&d, "input#txtVareNr").await;
                item.send_keys("0815".to_owned() + Key::Tab)
                    .await
                    .expect("type");
                let qty = d.find(By::Css("input#txtAntal")).await.expect("qty");
                qty.send_keys("4,5").await.expect("type");
                let note = d.find(By::Css("input#txtNote")).await.expect("note");
                note.send_keys("OilMat b-1-too-long").await.expect("type");
                let max = note.attr("maxlength").await.expect("attr");
                d.find(By::Css("input#btnTilfoej"))
                    .await
                    .expect("add")
                    .click()
                    .await
                    .expect("click");
                (max, "table#gridLines tr.line")
            }
        };
        assert_eq!(reference.as_deref(), Some("10"), "{kind}");
        let first = wait_for(&d, row).await;
        let stale = eventually(Duration::from_secs(10), || async {
            !first.is_present().await.unwrap_or(false)
        })
        .await;
        assert!(stale, "{kind}: the row was never re-rendered");
        let lines = bench.sandbox.lines("1001").await;
        assert_eq!(
            lines,
            vec![("0815".into(), 4.5, "OilMat b-1".into())],
            "{kind}"
        );
        bench.close().await;
    }
}

/// The element matching `css`, waited for (10 s).
async fn wait_for(d: &thirtyfour::WebDriver, css: &str) -> thirtyfour::WebElement {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(found) = d.find(thirtyfour::By::Css(css)).await {
            return found;
        }
        assert!(Instant::now() < deadline, "{css} never appeared");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
