//! Orders flow from /create to exactly one line on the case.

use std::time::Duration;

use serde_json::json;

use oilmat_testkit::*;

#[test]
fn orders_over_several_cases_land_exactly_once() {
    let sandbox = Sandbox::start("au2office");
    for case in ["558", "0559", "560"] {
        sandbox.case(case, "open");
    }
    sandbox.item("10");
    sandbox.item("0042");
    let data = tempfile::tempdir().unwrap();
    let ws = Workshop::start("flow", "au2office", &sandbox, data.path(), FAST);
    let cases = ["558", "0559", "560"];
    let mut ids = Vec::new();
    for i in 0..9 {
        let id = format!("flow-{i}");
        let item = if i % 2 == 0 { "10" } else { "0042" };
        let (code, body) = ws.create(&order(&id, cases[i % 3], item, "4.5"));
        assert_eq!(
            (code, body["status"].as_str()),
            (200, Some("received")),
            "{body}"
        );
        ids.push(id);
    }
    // Every order posted again, as a client retrying would: never a second order.
    for id in &ids {
        let (code, body) = ws.create(&order(id, "558", "10", "4.5"));
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["unique_id"], id.as_str());
    }
    for (id, status) in ws.wait_final(&ids, Duration::from_secs(180)) {
        assert_eq!(status["status"], "completed", "{id}: {status}");
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            sandbox.lines_for(cases[i % 3], id),
            1,
            "order {id} must be on its case once"
        );
    }
    let total: usize = cases.iter().map(|c| sandbox.lines(c).len()).sum();
    assert_eq!(total, 9);
    // Amounts arrive with a decimal comma, so 4.5 litres stay 4.5 (not 45).
    assert!(sandbox.lines("558").iter().all(|l| l["qty"] == json!(4.5)));
    // A completed order's timeline still names its trace and its attempt.
    let timeline = ws.cli(&["replay", "flow", "--unique-id", "flow-0"]);
    assert!(timeline.contains("order flow-0: completed"), "{timeline}");
    assert!(
        timeline.contains("trace id: ") && timeline.contains("line added"),
        "{timeline}"
    );
    let summary = ws.cli(&["replay", "flow"]);
    assert!(summary.contains("9 orders"), "{summary}");
    // The duplicate of a completed order answers its current status.
    let (code, body) = ws.create(&order(&ids[0], "558", "10", "4.5"));
    assert_eq!((code, body["status"].as_str()), (200, Some("completed")));
}

#[test]
fn bad_input_is_refused_with_a_reason_and_can_be_corrected() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("558", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let ws = Workshop::start("bad", "au2office", &sandbox, data.path(), FAST);

    let cases = [
        ("not json", "not valid JSON"),
        ("[1,2]", "must be a JSON object"),
        (
            r#"{"workshop":"w","product_nr":"10","product_amount":"1","unique_id":"b1","username":"u","password":"p"}"#,
            "missing field case_id",
        ),
        (
            r#"{"workshop":"w","case_id":"558","product_nr":"10","product_amount":"-3","unique_id":"b2","username":"u","password":"p"}"#,
            "product_amount",
        ),
        (
            r#"{"workshop":"w","case_id":"558","product_nr":"10","product_amount":"1","unique_id":"b3"}"#,
            "missing field username",
        ),
        (
            r#"{"workshop":"w","case_id":{"a":1},"product_nr":"10","product_amount":"1","unique_id":"b4","username":"u","password":"p"}"#,
            "case_id",
        ),
    ];
    for (body, expected) in cases {
        let (code, answer) = ws.create_raw(body.to_string());
        assert_eq!(code, 400, "{body} -> {answer}");
        assert_eq!(answer["status"], "bad request");
        let reason = answer["reason"].as_str().unwrap();
        assert!(
            reason.contains(expected),
            "{body}: reason {reason:?} should mention {expected:?}"
        );
    }
    let (code, status) = ws.status("b1");
    assert_eq!(
        (code, status["status"].as_str()),
        (200, Some("bad request"))
    );
    assert_eq!(status["reason"], "missing field case_id");

    // Corrected and posted again (as a JSON-encoded string, numbers for values): received.
    let fixed = json!({"workshop":"w","case_id":558,"product_nr":10,"product_amount":2,"unique_id":"b1","username":USER,"password":PASSWORD});
    let (code, answer) = ws.create_raw(serde_json::to_string(&fixed.to_string()).unwrap());
    assert_eq!(
        (code, answer["status"].as_str()),
        (200, Some("received")),
        "{answer}"
    );
    let done = ws.wait_final(&["b1".to_string()], Duration::from_secs(120));
    assert_eq!(done[0].1["status"], "completed");
    assert_eq!(sandbox.lines_for("558", "b1"), 1);

    // A bad body for an id that is already received does not touch it.
    let (code, _) = ws.create_raw(r#"{"unique_id":"b1"}"#.to_string());
    assert_eq!(code, 400);
    assert_eq!(ws.status("b1").1["status"], "completed");

    // The other endpoints' input checks.
    assert_eq!(ws.get("/check_order_status").0, 400);
    assert_eq!(ws.status("never-posted").0, 404);
    assert_eq!(ws.get("/queue?type=bogus").0, 400);
    assert_eq!(ws.put("/clear_queue?type=bogus").0, 400);
}

#[test]
fn final_failures_go_to_the_error_queue_with_their_reason() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("558", "open");
    sandbox.case("900", "closed");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let ws = Workshop::start("fails", "au2office", &sandbox, data.path(), FAST);
    let mut wrong_password = order("f-login", "558", "10", "1");
    // A login the ERP refuses (refusals are kept per user name).
    wrong_password["username"] = json!("former-employee");
    wrong_password["password"] = json!("wrong");
    let posted = [
        (order("f-item", "558", "999", "1"), "unknown item"),
        (order("f-case", "12345", "10", "1"), "unknown case"),
        (order("f-closed", "900", "10", "1"), "closed case"),
        (order("f-good", "558", "10", "1"), ""),
    ];
    // A refused login is the integration's fault, not the order's: its
    // order waits (design.md rule 6) while the others go on.
    assert_eq!(ws.create(&wrong_password).0, 200);
    for (o, _) in &posted {
        assert_eq!(ws.create(o).0, 200);
    }
    let ids: Vec<String> = posted
        .iter()
        .map(|(o, _)| o["unique_id"].as_str().unwrap().to_string())
        .collect();
    let finals = ws.wait_final(&ids, Duration::from_secs(180));
    for ((id, status), (_, expected)) in finals.iter().zip(&posted) {
        if expected.is_empty() {
            assert_eq!(status["status"], "completed", "{id}");
        } else {
            assert_eq!(status["status"], "failed", "{id}: {status}");
            assert!(
                status["reason"].as_str().unwrap().starts_with(expected),
                "{id}: {status}"
            );
        }
    }
    let (_, status) = ws.status("f-login");
    assert!(
        status["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("waiting for the ERP: login refused since "),
        "{status}"
    );
    assert_ne!(status["status"], "failed", "{status}");
    let (_, alive) = ws.get("/alive");
    assert_eq!(alive["erp"]["state"], "up", "{alive}");
    assert_eq!(alive["erp"]["logins_refused"], 1, "{alive}");
    let (_, errors) = ws.get("/queue?type=error");
    assert_eq!(errors["length"], 3);
    assert!(errors["queue"][0]["reason"].is_string());
    assert!(errors["queue"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["password"] == "***"));
    assert_eq!(sandbox.lines("558").len(), 1, "only the good order lands");

    // Support can tell why from the log alone: reason, attempts, evidence that exists.
    let replay = ws.cli(&["replay", "fails", "--unique-id", "f-item"]);
    assert!(
        replay.contains("order f-item: failed (unknown item: Ukendt varenummer)"),
        "{replay}"
    );
    assert!(
        replay.contains(".png (present)") && replay.contains(".html (present)"),
        "{replay}"
    );
    assert!(replay.contains("trace id: "), "{replay}");
    let summary = ws.cli(&["replay", "fails"]);
    assert!(summary.contains("error queue (3)"), "{summary}");

    // Requeue one through the running service's API (the CLI's --url).
    sandbox.item("999");
    let out = ws.cli(&[
        "requeue",
        "fails",
        "--unique-id",
        "f-item",
        "--url",
        ws.url(),
    ]);
    assert!(out.contains("requeued 1 order"), "{out}");
    let done = ws.wait_final(&["f-item".to_string()], Duration::from_secs(120));
    assert_eq!(done[0].1["status"], "completed");
    assert_eq!(sandbox.lines_for("558", "f-item"), 1);
    // Clearing is recorded, not erased: the orders end failed/cleared.
    let (code, cleared) = ws.put("/clear_queue?type=error");
    assert_eq!((code, cleared["cleared"].as_u64()), (200, Some(2)));
    assert_eq!(ws.get("/queue?type=error").1["length"], 0);
    assert_eq!(ws.status("f-case").1["reason"], "cleared");
    let kinds: Vec<String> = ws
        .events("f-case")
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("received"));
    assert_eq!(kinds.last().map(String::as_str), Some("cleared"));
}

#[test]
fn stop_worker_survives_a_restart_and_kill_stops_within_5_s() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("600", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let mut ws = Workshop::start("ctl", "au2office", &sandbox, data.path(), FAST);
    assert_eq!(ws.get("/alive").1["API is alive, worker running"], true);
    let (code, body) = ws.put("/stop_worker");
    assert_eq!((code, body["Worker running"].as_bool()), (200, Some(false)));
    assert_eq!(ws.create(&order("c-1", "600", "10", "3")).0, 200);
    assert_eq!(
        ws.get("/queue?type=task").1["length"],
        1,
        "a stopped worker leaves orders queued"
    );

    let (code, body) = ws.put("/kill");
    assert_eq!(code, 200);
    assert_eq!(
        body["Shutting down"].as_u64(),
        Some(ws.proc.child.id() as u64)
    );
    let exit = ws.proc.wait_exit(std::time::Duration::from_secs(5));
    assert!(
        exit.is_some_and(|s| s.success()),
        "exits cleanly within 5 s: {exit:?}"
    );

    // The operator's choice survives the restart; the acknowledged order is still there.
    let ws = Workshop::start("ctl", "au2office", &sandbox, data.path(), FAST);
    assert_eq!(ws.get("/alive").1["API is alive, worker running"], false);
    assert_eq!(ws.status("c-1").1["status"], "received");
    assert_eq!(ws.put("/start_worker").1["Worker running"], true);
    let done = ws.wait_final(&["c-1".to_string()], Duration::from_secs(120));
    assert_eq!(done[0].1["status"], "completed");
    assert_eq!(sandbox.lines_for("600", "c-1"), 1);
}
