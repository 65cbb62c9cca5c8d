//! Browser: seconds per order against the sandbox au2office (no injected
//! delay) with a warm browser session, next to the bare cost of the same
//! page loads, typing and clicks done by a minimal thirtyfour script with
//! tight polling (the floor); and the first order after the browser was
//! closed for idleness, next to a warm order plus a browser start.
//!
//! Measured three ways, each on its own fresh cases (one line per case, as
//! in a workshop):
//! - bare: the minimal script, logged in once;
//! - driver: `erp::book_line` in a warm `BrowserSession` (what the
//!   worker runs per order, reference check included);
//! - service: the release binary `oilmat-erp workshop`, N orders posted at
//!   once, timed until its task queue is empty (journal, queue, worker).
//!
//! After an idle close (`--idle-close-secs 2`) one order is posted 3 s after
//! the browser closed (orders arrive long after an idle close), and one the
//! moment it closed (the worst case: the old browser's processes are still
//! being torn down while the new one starts).
//!
//! `cargo bench --bench browser [-- --orders N]`

use oilmat_testkit as kit;
use std::future::Future;
use std::time::{Duration, Instant};

use oilmat_erp::erp::ErpType;
use oilmat_erp::erp::{book_line, Credentials, OrderLine};
use oilmat_erp::erp::{BrowserConfig, BrowserSession, WebDriverEndpoint};
use oilmat_erp::order::Booked;
use oilmat_testkit::{Proc, Sandbox, PASSWORD, USER};
use serde_json::Value;
use thirtyfour::prelude::*;

const TARGET_RATIO: f64 = 1.5;
const IDLE_ALLOWANCE: Duration = Duration::from_secs(1);
const ITEM: &str = "10";
const STEP: Duration = Duration::from_secs(20);

fn main() {
    let n = kit::num("--orders", 20) as usize;
    println!("browser benchmark on {}", kit::machine());
    let sandbox = Sandbox::start("au2office");
    sandbox.item(ITEM);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if kit::flag("--probe") {
        return rt.block_on(probe(&sandbox));
    }
    let start = rt.block_on(browser_start());
    let bare = rt.block_on(bare_orders(&sandbox, "b", n, Duration::from_millis(5)));
    let driver_poll = oilmat_erp::erp::waiting::POLL_INTERVAL;
    let bare_slow = rt.block_on(bare_orders(&sandbox, "p", n, driver_poll));
    let driver = rt.block_on(driver_orders(&sandbox, n));
    let (service, after_idle, right_after) = service_orders(&sandbox, n);
    check_exactly_once(
        &sandbox,
        &[("b", n + 2), ("p", n + 2), ("d", n + 2), ("s", n + 4)],
    );

    let per = |d: Duration| d.as_secs_f64() / n as f64;
    println!();
    println!("{n} orders each, one fresh case per order, warm session (2 warm-up orders first)");
    println!("                                   | s per order | vs bare");
    println!(
        "bare script (floor)                | {:>11.3} | 1.00x",
        per(bare)
    );
    println!(
        "bare script, polling every {:>3} ms  | {:>11.3} | {}",
        driver_poll.as_millis(),
        per(bare_slow),
        kit::versus(per(bare_slow), per(bare))
    );
    println!(
        "driver: book_line                  | {:>11.3} | {}",
        per(driver),
        kit::versus(per(driver), per(bare))
    );
    println!(
        "service: oilmat-erp workshop       | {:>11.3} | {}",
        per(service),
        kit::versus(per(service), per(bare))
    );
    println!(
        "browser start (chromedriver + session, median of 3): {:.3} s",
        start.as_secs_f64()
    );
    let allowed = Duration::from_secs_f64(per(service)) + start + IDLE_ALLOWANCE;
    println!(
        "first order after an idle close: {:.3} s vs warm order + browser start + 1 s = {:.3} s ({})",
        after_idle.as_secs_f64(),
        allowed.as_secs_f64(),
        kit::versus(after_idle.as_secs_f64(), allowed.as_secs_f64())
    );
    println!(
        "  the same, posted the moment the browser closed: {:.3} s ({})",
        right_after.as_secs_f64(),
        kit::versus(right_after.as_secs_f64(), allowed.as_secs_f64())
    );
    let ratio = per(service) / per(bare);
    println!(
        "targets: service within {TARGET_RATIO}x of bare: {} ({ratio:.2}x); first order after idle close within the allowance: {}",
        verdict(ratio <= TARGET_RATIO),
        verdict(after_idle <= allowed)
    );
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn config() -> BrowserConfig {
    let mut config = BrowserConfig::new(WebDriverEndpoint::Spawn);
    config.step_timeout = STEP;
    config
}

/// Where a fresh session's first order spends its time.
async fn probe(sandbox: &Sandbox) {
    for round in 0..3 {
        let mut session = BrowserSession::new(config());
        let t = Instant::now();
        let d = session.driver().await.expect("browser").clone();
        let start = t.elapsed();
        let t = Instant::now();
        d.goto(format!("{}/login", sandbox.url()))
            .await
            .expect("goto");
        let first = t.elapsed();
        let t = Instant::now();
        d.goto(format!("{}/login", sandbox.url()))
            .await
            .expect("goto");
        let second = t.elapsed();
        let t = Instant::now();
        bare_login(&d, sandbox.url()).await.expect("login");
        let login = t.elapsed();
        println!("round {round}: start {start:?} first goto {first:?} second goto {second:?} login {login:?}");
        session.close().await;
        if kit::flag("--pause") {
            std::thread::sleep(Duration::from_secs(5));
        }
    }
}

/// Median time to a usable session (chromedriver started, session open).
async fn browser_start() -> Duration {
    let mut times = Vec::new();
    for _ in 0..3 {
        let mut session = BrowserSession::new(config());
        let started = Instant::now();
        session.driver().await.expect("browser");
        times.push(started.elapsed());
        session.close().await;
    }
    times.sort();
    times[1]
}

/// Fresh open cases `{prefix}-0 .. {prefix}-{n-1}` (plus two for warming up).
fn cases(sandbox: &Sandbox, prefix: &str, n: usize) -> Vec<String> {
    (0..n + 2)
        .map(|i| {
            let id = format!("{prefix}{i:04}");
            sandbox.case(&id, "open");
            id
        })
        .collect()
}

/// The minimal script: log in once, then per order the same page loads,
/// typing and clicks as the au2office flow, polling every 5 ms.
async fn bare_orders(sandbox: &Sandbox, prefix: &str, n: usize, poll: Duration) -> Duration {
    let cases = cases(sandbox, prefix, n);
    let mut session = BrowserSession::new(config());
    let d = session.driver().await.expect("browser").clone();
    bare_login(&d, sandbox.url()).await.expect("login");
    let mut took = Duration::ZERO;
    for (i, case) in cases.iter().enumerate() {
        let started = Instant::now();
        let reference = format!("OilMat {prefix}-{i}");
        bare_order(&d, sandbox.url(), case, &reference, poll)
            .await
            .expect("bare order");
        if i >= 2 {
            took += started.elapsed();
        }
    }
    session.close().await;
    took
}

async fn bare_login(d: &WebDriver, base: &str) -> WebDriverResult<()> {
    let poll = Duration::from_millis(5);
    d.goto(format!("{base}/login")).await?;
    d.find(By::Css("input[name=username]"))
        .await?
        .send_keys(USER)
        .await?;
    d.find(By::Css("input[name=password]"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    d.find(By::Css("button#login-button"))
        .await?
        .click()
        .await?;
    until(poll, || present(d, "nav#main-nav")).await
}

async fn bare_order(
    d: &WebDriver,
    base: &str,
    case: &str,
    reference: &str,
    poll: Duration,
) -> WebDriverResult<()> {
    d.goto(format!("{base}/cases/{case}")).await?;
    until(poll, || present(d, "table#order-lines")).await?;
    d.find(By::Css("button#add-line")).await?.click().await?;
    until(poll, || present(d, "input#line-item-no")).await?;
    let typed = ITEM.to_string() + Key::Tab;
    d.find(By::Css("input#line-item-no"))
        .await?
        .send_keys(typed)
        .await?;
    until(poll, || has_text(d, "span#line-item-name", None)).await?;
    d.find(By::Css("input#line-qty"))
        .await?
        .send_keys("4,5")
        .await?;
    d.find(By::Css("input#line-reference"))
        .await?
        .send_keys(reference)
        .await?;
    d.find(By::Css("button#line-save")).await?.click().await?;
    until(poll, || has_text(d, "td.reference", Some(reference))).await
}

async fn present(d: &WebDriver, css: &str) -> WebDriverResult<bool> {
    Ok(!d.find_all(By::Css(css)).await?.is_empty())
}

/// Some element matching `css` shows `want` (or any text).
async fn has_text(d: &WebDriver, css: &str, want: Option<&str>) -> WebDriverResult<bool> {
    for e in d.find_all(By::Css(css)).await? {
        let Ok(text) = e.text().await else { continue };
        match want {
            Some(want) if text.trim() == want => return Ok(true),
            None if !text.trim().is_empty() => return Ok(true),
            _ => {}
        }
    }
    Ok(false)
}

async fn until<F, Fut>(poll: Duration, mut cond: F) -> WebDriverResult<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = WebDriverResult<bool>>,
{
    let deadline = Instant::now() + STEP;
    while !cond().await? {
        assert!(Instant::now() < deadline, "bare script: step timed out");
        tokio::time::sleep(poll).await;
    }
    Ok(())
}

/// The driver the worker runs, in a warm session (its first call logs in).
async fn driver_orders(sandbox: &Sandbox, n: usize) -> Duration {
    let cases = cases(sandbox, "d", n);
    let creds = Credentials {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    let mut session = BrowserSession::new(config());
    let mut took = Duration::ZERO;
    for (i, case) in cases.iter().enumerate() {
        let line = OrderLine {
            unique_id: format!("drv-{i}"),
            case_id: case.clone(),
            item_no: ITEM.into(),
            amount: "4.5".into(),
        };
        let d = session.driver().await.expect("browser");
        let started = Instant::now();
        let booked = book_line(ErpType::Au2office, d, sandbox.url(), &line, &creds, STEP).await;
        assert_eq!(booked, Ok(Booked::Added), "driver order {i}");
        if i >= 2 {
            took += started.elapsed();
        }
    }
    session.close().await;
    took
}

/// The service: N orders posted at once to a workshop of the real binary
/// (after two warm-up orders), timed until its task queue is empty; then,
/// each time the browser closed for idleness, one more order: the moment
/// it closed, and 3 s later.
fn service_orders(sandbox: &Sandbox, n: usize) -> (Duration, Duration, Duration) {
    let cases = cases(sandbox, "s", n + 2);
    let data = kit::data_dir("browser");
    let dir = data.path().display().to_string();
    let ws = Proc::oilmat(
        &[
            "workshop",
            "0",
            "bench",
            "au2office",
            "--erp-url",
            sandbox.url(),
            "--data-dir",
            &dir,
            "--host",
            "127.0.0.1",
            "--idle-close-secs",
            "2",
        ],
        &[("RUST_LOG", "info,thirtyfour=warn")],
        "browser-workshop",
    );
    let http = kit::client();
    let post = |id: &str, case: &str| {
        let body = kit::order_json(id, case, ITEM, "4.5");
        let r = http
            .post(format!("{}/create", ws.url))
            .body(body)
            .send()
            .expect("create");
        assert!(r.status().is_success(), "create {id}: {}", r.status());
    };
    let queue_empty = || {
        http.get(format!("{}/queue?type=task", ws.url))
            .send()
            .and_then(|r| r.json::<Value>())
            .is_ok_and(|v| v["length"] == 0)
    };
    for (i, case) in cases.iter().take(2).enumerate() {
        post(&format!("warm-{i}"), case);
    }
    kit::wait_until("warm-up orders", Duration::from_secs(120), queue_empty);
    let started = Instant::now();
    for (i, case) in cases.iter().skip(2).take(n).enumerate() {
        post(&format!("svc-{i}"), case);
    }
    kit::wait_until(
        "the service's orders",
        Duration::from_secs(600),
        queue_empty,
    );
    let service = started.elapsed();
    let pidfile = data.path().join("bench/chromedriver.pid");
    let after_close = |id: &str, case: &str, pause: Duration| {
        kit::wait_until(
            "the browser to close when idle",
            Duration::from_secs(60),
            || !pidfile.exists(),
        );
        std::thread::sleep(pause);
        let started = Instant::now();
        post(id, case);
        kit::wait_until(
            "the order after the idle close",
            Duration::from_secs(120),
            queue_empty,
        );
        started.elapsed()
    };
    let right_after = after_close("right-after-idle", &cases[n + 2], Duration::ZERO);
    let after_idle = after_close("after-idle", &cases[n + 3], Duration::from_secs(3));
    let statuses: Vec<String> = (0..n)
        .map(|i| format!("svc-{i}"))
        .chain(["right-after-idle".to_string(), "after-idle".to_string()])
        .map(|id| {
            http.get(format!("{}/check_order_status?unique_id={id}", ws.url))
                .send()
                .and_then(|r| r.json::<Value>())
                .map(|v| v["status"].as_str().unwrap_or("?").to_string())
                .unwrap_or_default()
        })
        .collect();
    assert!(
        statuses.iter().all(|s| s == "completed"),
        "service orders: {statuses:?}"
    );
    (service, after_idle, right_after)
}

/// Every case used has exactly one line.
fn check_exactly_once(sandbox: &Sandbox, used: &[(&str, usize)]) {
    for (prefix, count) in used {
        for i in 0..*count {
            let id = format!("{prefix}{i:04}");
            let refs = sandbox.references(&id);
            assert_eq!(refs.len(), 1, "case {id}: {refs:?}");
        }
    }
}
