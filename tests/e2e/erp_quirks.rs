//! Exactly once against ERPs as they really behave (erp-ui.md "Common to
//! both"), through the real binary: a reference field the ERP cuts, and a
//! list of lines that re-renders itself.

use std::time::Duration;

use serde_json::json;

use oilmat_testkit::*;

/// What the ERP keeps of a reference (`OilMat <unique_id>`).
const MAXLENGTH: usize = 40;

fn a_cut_reference_fails_at_once_and_one_that_fits_books_once(erp: &str) {
    let sandbox = Sandbox::start(erp);
    sandbox.case("410", "open");
    sandbox.item("10");
    sandbox.faults(json!({ "reference_maxlength": MAXLENGTH }));
    let data = tempfile::tempdir().unwrap();
    let ws = Workshop::start(&format!("maxlen-{erp}"), erp, &sandbox, data.path(), FAST);

    // 50 characters: `OilMat ` + 50 > 40.
    let long = format!("long-{}", "x".repeat(45));
    assert_eq!(long.len(), 50);
    // `OilMat ` + 33 = 40: fits exactly.
    let fits = format!("fits-{}", "y".repeat(MAXLENGTH - "OilMat ".len() - 5));
    assert_eq!(format!("OilMat {fits}").len(), MAXLENGTH);
    assert_eq!(ws.create(&order(&long, "410", "10", "2.5")).0, 200);
    assert_eq!(ws.create(&order(&fits, "410", "10", "1")).0, 200);

    let ids = [long.clone(), fits.clone()];
    let finals = ws.wait_final(&ids, Duration::from_secs(120));
    let long_status = &finals[0].1;
    assert_eq!(long_status["status"], "failed", "{long_status}");
    assert_eq!(
        long_status["reason"], "bad input: the ERP keeps only 40 characters of the reference",
        "{long_status}"
    );
    assert_eq!(finals[1].1["status"], "completed", "{}", finals[1].1);

    // Nothing saved for the long one: no save was even submitted, so no line
    // can land later either.
    let kinds = event_kinds(&ws, &long);
    assert!(!kinds.contains(&"save submitted".to_string()), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "failed").count(),
        1,
        "an order fault fails at once: {kinds:?}"
    );
    assert_eq!(
        sandbox.references("410"),
        vec![format!("OilMat {fits}")],
        "only the order that fits is on the case, once"
    );
}

#[test]
fn au2office_a_cut_reference_fails_at_once_and_one_that_fits_books_once() {
    a_cut_reference_fails_at_once_and_one_that_fits_books_once("au2office");
}

#[test]
fn admanager_a_cut_reference_fails_at_once_and_one_that_fits_books_once() {
    a_cut_reference_fails_at_once_and_one_that_fits_books_once("admanager");
}

fn re_rendered_lines_book_every_order_once_reposts_included(erp: &str) {
    let sandbox = Sandbox::start(erp);
    let cases = ["420", "421"];
    for case in cases {
        sandbox.case(case, "open");
    }
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let ws = Workshop::start(&format!("rerender-{erp}"), erp, &sandbox, data.path(), FAST);

    // Cases that already hold lines.
    let earlier: Vec<String> = (0..2).map(|i| format!("pre-{i}")).collect();
    for (i, id) in earlier.iter().enumerate() {
        assert_eq!(ws.create(&order(id, cases[i % 2], "10", "1")).0, 200);
    }
    for (id, status) in ws.wait_final(&earlier, Duration::from_secs(120)) {
        assert_eq!(status["status"], "completed", "{id}: {status}");
    }

    // The lists re-render every 40 ms from now on; slow pages keep the
    // orders in flight long enough to post them again meanwhile.
    sandbox.faults(json!({"rerender_lines_ms": 40, "page_delay_ms": 300}));
    let ids: Vec<String> = (0..4).map(|i| format!("rr-{i}")).collect();
    let case_of = |i: usize| cases[i % 2];
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(ws.create(&order(id, case_of(i), "10", "1")).0, 200);
    }
    // Reposts while an order is in flight: each one as soon as it is
    // processing (or already done, should it have been quicker than the poll).
    for (i, id) in ids.iter().enumerate() {
        wait_until(
            &format!("{id} to be processing"),
            Duration::from_secs(120),
            || {
                matches!(
                    ws.status(id).1["status"].as_str(),
                    Some("processing" | "completed" | "failed")
                )
            },
        );
        let (code, answer) = ws.create(&order(id, case_of(i), "10", "1"));
        assert_eq!(code, 200, "repost of {id}: {answer}");
    }
    for (id, status) in ws.wait_final(&ids, Duration::from_secs(150)) {
        assert_eq!(status["status"], "completed", "{id}: {status}");
    }
    // Reposts after completion: answered from the log, nothing booked again.
    let every: Vec<(&String, &str)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id, case_of(i)))
        .chain(earlier.iter().enumerate().map(|(i, id)| (id, cases[i % 2])))
        .collect();
    for (id, case) in &every {
        let (code, answer) = ws.create(&order(id, case, "10", "1"));
        assert_eq!(code, 200, "repost of {id}: {answer}");
        assert_eq!(answer["status"], "completed", "{id}: {answer}");
    }

    for (id, case) in &every {
        assert_eq!(sandbox.lines_for(case, id), 1, "{id} exactly once");
        let completions = event_kinds(&ws, id)
            .iter()
            .filter(|k| *k == "completed")
            .count();
        assert_eq!(completions, 1, "{id} completed once");
    }
    let total: usize = cases.iter().map(|c| sandbox.lines(c).len()).sum();
    assert_eq!(
        total,
        ids.len() + earlier.len(),
        "no other line on the cases"
    );
}

#[test]
fn au2office_re_rendered_lines_book_every_order_once_reposts_included() {
    re_rendered_lines_book_every_order_once_reposts_included("au2office");
}

#[test]
fn admanager_re_rendered_lines_book_every_order_once_reposts_included() {
    re_rendered_lines_book_every_order_once_reposts_included("admanager");
}

/// The kinds of an order's events, in order.
fn event_kinds(ws: &Workshop, unique_id: &str) -> Vec<String> {
    ws.events(unique_id)
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect()
}
