//! The au2office driver against the sandbox ERP, through a real chromedriver
//! and headless Chromium.

use std::time::Duration;

use oilmat_erp::erp::capture_evidence;
use oilmat_erp::erp::ErpType;
use oilmat_erp::erp::{log_in, Credentials, Failure as Error};
use oilmat_erp::order::{Booked, FailureKind};
use oilmat_testkit::in_process::{order_line, DriverBench, DRIVER_PASSWORD, DRIVER_USER};
use oilmat_testkit::proc::{
    assert_no_process_mentions, kill_group, process_exists, wait_until_dead,
};
use serde_json::json;

const STEP: Duration = Duration::from_secs(10);

async fn bench(step: Duration) -> DriverBench {
    let bench = DriverBench::start(ErpType::Au2office, step).await;
    bench.sandbox.case("1001", "open").await;
    bench.sandbox.case("0042", "open").await;
    bench.sandbox.case("2002", "closed").await;
    bench.sandbox.item("0815", "Motorolie 5W-30").await;
    bench
}

fn final_reason(result: Result<Booked, Error>) -> String {
    match result {
        Err(e) if e.is_final() => e.reason,
        other => panic!("expected a final error, got {other:?}"),
    }
}

fn retryable_reason(result: Result<Booked, Error>) -> String {
    match result {
        Err(e) if !e.is_final() => e.reason,
        other => panic!("expected a retryable error, got {other:?}"),
    }
}

#[tokio::test]
async fn books_a_line_once_and_recognises_it_again() {
    let mut bench = bench(STEP).await;
    let first = order_line("u-1", "1001", "0815", "4.5");

    assert_eq!(bench.book(&first).await, Ok(Booked::Added));
    assert_eq!(bench.book(&first).await, Ok(Booked::AlreadyPresent));
    assert_eq!(
        bench.book(&order_line("u-2", "0042", "0815", "5")).await,
        Ok(Booked::Added)
    );

    let lines = bench.sandbox.lines("1001").await;
    assert_eq!(lines, vec![("0815".into(), 4.5, "OilMat u-1".into())]);
    let lines = bench.sandbox.lines("0042").await;
    assert_eq!(lines, vec![("0815".into(), 5.0, "OilMat u-2".into())]);
    assert_eq!(bench.browser.restarts(), 0);
    bench.close().await;
}

#[tokio::test]
async fn a_dead_chromedriver_is_replaced_by_a_fresh_browser() {
    let mut bench = bench(STEP).await;
    let first = order_line("u-1", "1001", "0815", "1");
    assert_eq!(bench.book(&first).await, Ok(Booked::Added));
    let old_pid = bench.browser.chromedriver_pid().expect("pid");
    let old_profile = bench.browser.profile_dir().expect("profile").to_path_buf();
    kill_group(old_pid);
    wait_until_dead(old_pid);

    // The session notices the dead chromedriver and starts afresh; if the
    // kill is still settling, the call fails as retryable and the worker's
    // reset does the same.
    let second = order_line("u-2", "1001", "0815", "2");
    match bench.book(&second).await {
        Ok(booked) => assert_eq!(booked, Booked::Added),
        Err(e) if !e.is_final() && e.reason.starts_with("webdriver: ") => {
            bench.browser.reset().await;
            assert_eq!(bench.book(&second).await, Ok(Booked::Added));
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
    assert_eq!(bench.browser.restarts(), 1);
    assert_ne!(bench.browser.chromedriver_pid(), Some(old_pid));
    assert!(!old_profile.exists());
    assert!(!process_exists(old_pid));
    assert_no_process_mentions(&old_profile);
    assert_eq!(bench.sandbox.lines("1001").await.len(), 2);
    bench.close().await;
}

#[tokio::test]
async fn final_failures_carry_their_reasons() {
    let mut bench = bench(STEP).await;
    let wrong = bench
        .book_as(&order_line("u-1", "1001", "0815", "1"), "forkert")
        .await;
    // A refused login is the integration's fault, not the order's
    // (design.md rule 6): not final; its orders wait for a good check.
    let wrong = wrong.expect_err("a refused login");
    assert_eq!(wrong.kind, FailureKind::LoginFailed);
    assert_eq!(wrong.reason, "login failed");
    assert!(!wrong.is_final());

    let unknown_item = bench.book(&order_line("u-2", "1001", "9999", "1")).await;
    assert_eq!(
        final_reason(unknown_item),
        "unknown item: Ukendt varenummer"
    );
    let unknown_case = bench.book(&order_line("u-3", "7777", "0815", "1")).await;
    assert_eq!(
        final_reason(unknown_case),
        "unknown case: Sagen findes ikke"
    );
    let closed = bench.book(&order_line("u-4", "2002", "0815", "1")).await;
    assert!(final_reason(closed).starts_with("closed case: "));
    let bad_amount = bench.book(&order_line("u-5", "1001", "0815", "-1")).await;
    assert!(final_reason(bad_amount).starts_with("bad input: "));

    assert!(bench.sandbox.lines("1001").await.is_empty());
    assert!(bench.sandbox.lines("2002").await.is_empty());
    let evidence_dir = std::env::temp_dir().join(format!("oilmat-evidence-{}", std::process::id()));
    let driver = bench.browser.driver().await.expect("driver");
    let evidence = capture_evidence(driver, &evidence_dir, "u-4/attempt 1").await;
    assert!(
        evidence.screenshot.as_ref().is_some_and(|p| p.is_file()),
        "{evidence:?}"
    );
    assert!(
        evidence.page_source.as_ref().is_some_and(|p| p.is_file()),
        "{evidence:?}"
    );
    let _ = std::fs::remove_dir_all(evidence_dir);
    bench.close().await;
}

#[tokio::test]
async fn expired_sessions_are_logged_into_again() {
    let mut bench = bench(STEP).await;
    assert_eq!(
        bench.book(&order_line("u-1", "1001", "0815", "1")).await,
        Ok(Booked::Added)
    );

    bench.sandbox.faults(json!({"expire_sessions": true})).await;
    assert_eq!(
        bench.book(&order_line("u-2", "1001", "0815", "2")).await,
        Ok(Booked::Added)
    );

    // Expire the session while the driver waits for the add-line dialog
    // (held 2.5 s), before any save: the item lookup lands on the login
    // page, and the driver logs in and starts over.
    bench.sandbox.faults(json!({"dialog_delay_ms": 2500})).await;
    let sandbox_base = bench.sandbox.base.clone();
    let expire = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .post(format!("{sandbox_base}/_sandbox/faults"))
            .json(&json!({"expire_sessions": true}))
            .send()
            .await
            .expect("expire");
    });
    assert_eq!(
        bench.book(&order_line("u-3", "1001", "0815", "3")).await,
        Ok(Booked::Added)
    );
    expire.await.expect("expired");

    let references: Vec<_> = bench
        .sandbox
        .lines("1001")
        .await
        .into_iter()
        .map(|l| l.2)
        .collect();
    assert_eq!(references, ["OilMat u-1", "OilMat u-2", "OilMat u-3"]);
    bench.close().await;
}

#[tokio::test]
async fn a_failed_save_is_retryable_and_the_retry_books_once() {
    let mut bench = bench(STEP).await;
    let dispense = order_line("u-1", "1001", "0815", "4,5");
    bench.sandbox.faults(json!({"fail_saves": 1})).await;

    let reason = retryable_reason(bench.book(&dispense).await);
    assert!(reason.starts_with("erp server error: "), "{reason}");
    assert!(bench.sandbox.lines("1001").await.is_empty());

    assert_eq!(bench.book(&dispense).await, Ok(Booked::Added));
    assert_eq!(bench.sandbox.lines("1001").await.len(), 1);
    bench.close().await;
}

#[tokio::test]
async fn an_unconfirmed_save_is_found_by_its_reference_on_retry() {
    let mut bench = bench(STEP).await;
    // Warm up (browser start, login) with the long step timeout, so that
    // only the unconfirmed save can run into the short one.
    let warm_up = order_line("u-0", "0042", "0815", "1");
    assert_eq!(bench.book(&warm_up).await, Ok(Booked::Added));
    bench.step_timeout = Duration::from_secs(3);
    let dispense = order_line("u-1", "1001", "0815", "4.5");
    bench
        .sandbox
        .faults(json!({"store_without_confirm": 1}))
        .await;

    let reason = retryable_reason(bench.book(&dispense).await);
    assert_eq!(reason, "timeout: confirm save");

    assert_eq!(bench.book(&dispense).await, Ok(Booked::AlreadyPresent));
    let lines = bench.sandbox.lines("1001").await;
    assert_eq!(lines, vec![("0815".into(), 4.5, "OilMat u-1".into())]);
    bench.close().await;
}

#[tokio::test]
async fn a_login_alone_is_accepted_or_refused() {
    let mut bench = bench(STEP).await;
    let base = bench.sandbox.base.clone();
    let creds = |password: &str| Credentials {
        username: DRIVER_USER.into(),
        password: password.into(),
    };
    let driver = bench.browser.driver().await.expect("driver");
    let refused = log_in(ErpType::Au2office, driver, &base, &creds("forkert"), STEP).await;
    assert_eq!(refused, Err(Error::login_failed()));
    let accepted = log_in(
        ErpType::Au2office,
        driver,
        &base,
        &creds(DRIVER_PASSWORD),
        STEP,
    )
    .await;
    assert_eq!(accepted, Ok(()));
    bench.close().await;
}

#[tokio::test]
async fn a_reference_the_erp_would_cut_fails_at_once_and_saves_nothing() {
    let mut bench = bench(STEP).await;
    bench
        .sandbox
        .faults(json!({"reference_maxlength": 40}))
        .await;
    let long = "L".repeat(50);
    let reason = final_reason(bench.book(&order_line(&long, "1001", "0815", "4.5")).await);
    assert_eq!(
        reason,
        "bad input: the ERP keeps only 40 characters of the reference"
    );
    assert!(bench.sandbox.lines("1001").await.is_empty());
    // One that fits books once.
    let short = order_line("fits", "1001", "0815", "4.5");
    assert_eq!(bench.book(&short).await, Ok(Booked::Added));
    assert_eq!(bench.sandbox.lines("1001").await.len(), 1);
    bench.close().await;
}

#[tokio::test]
async fn re_rendered_lines_never_read_as_absent() {
    let mut bench = bench(STEP).await;
    bench.sandbox.faults(json!({"rerender_lines_ms": 40})).await;
    let ids: Vec<String> = (1..=5).map(|i| format!("rr-{i}")).collect();
    for id in &ids {
        let dispense = order_line(id, "1001", "0815", "1");
        assert_eq!(bench.book(&dispense).await, Ok(Booked::Added), "{id}");
    }
    // Reposts of every order are recognised, none added again.
    for id in &ids {
        let dispense = order_line(id, "1001", "0815", "1");
        assert_eq!(
            bench.book(&dispense).await,
            Ok(Booked::AlreadyPresent),
            "{id}"
        );
    }
    let references: Vec<String> = bench
        .sandbox
        .lines("1001")
        .await
        .into_iter()
        .map(|l| l.2)
        .collect();
    let expected: Vec<String> = ids.iter().map(|id| format!("OilMat {id}")).collect();
    assert_eq!(references, expected);
    bench.close().await;
}
