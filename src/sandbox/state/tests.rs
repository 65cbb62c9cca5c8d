//! Unit tests of the sandbox's data and rules.

use super::*;

const IDLE: Duration = Duration::from_secs(60);

fn seeded() -> State {
    let mut s = State::new(IDLE);
    let seed: Seed = serde_json::from_str(
        r#"{"users":[{"username":"anna","password":"pw"}],
            "cases":[{"case_id":"0558","status":"open"},{"case_id":"9","status":"closed"}],
            "items":[{"item_no":"0042","name":"Motorolie 5W-30"}]}"#,
    )
    .unwrap();
    s.apply_seed(seed).unwrap();
    s
}

fn line<'a>(item_no: &'a str, qty: &'a str) -> NewLine<'a> {
    NewLine {
        item_no,
        qty,
        reference: "OilMat u1",
    }
}

#[test]
fn a_save_stores_the_line_in_order() {
    let mut s = seeded();
    s.save_line("0558", line("0042", "4,5")).unwrap();
    s.save_line("0558", line(" 0042 ", "4.5")).unwrap();
    let lines = &s.case("0558").unwrap().lines;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].qty.value(), 4.5);
    assert_eq!(lines[1].qty.value(), 45.0);
    assert_eq!(lines[1].item_no, "0042");
}

#[test]
fn a_save_is_refused_for_bad_input() {
    let mut s = seeded();
    assert_eq!(
        s.save_line("558", line("0042", "1")),
        Err(SaveError::UnknownCase)
    );
    assert_eq!(
        s.save_line("9", line("0042", "1")),
        Err(SaveError::CaseClosed)
    );
    assert_eq!(
        s.save_line("0558", line("42", "1")),
        Err(SaveError::UnknownItem)
    );
    assert_eq!(
        s.save_line("0558", line("0042", "x")),
        Err(SaveError::BadQty)
    );
    assert!(s.case("0558").unwrap().lines.is_empty());
}

#[test]
fn fail_saves_fails_the_next_n_saves_and_stores_nothing() {
    let mut s = seeded();
    s.patch_faults(FaultsPatch {
        fail_saves: Some(2),
        ..FaultsPatch::default()
    });
    for _ in 0..2 {
        let err = s.save_line("0558", line("0042", "1"));
        assert_eq!(err, Err(SaveError::InjectedFailure));
    }
    assert!(matches!(
        s.save_line("0558", line("0042", "1")),
        Ok(Saved::Confirmed(_))
    ));
    assert_eq!(s.case("0558").unwrap().lines.len(), 1);
    assert_eq!(s.faults().fail_saves, 0);
}

#[test]
fn store_without_confirm_stores_but_does_not_confirm() {
    let mut s = seeded();
    s.patch_faults(FaultsPatch {
        store_without_confirm: Some(1),
        ..FaultsPatch::default()
    });
    assert_eq!(
        s.save_line("0558", line("0042", "1")),
        Ok(Saved::Unconfirmed)
    );
    assert!(matches!(
        s.save_line("0558", line("0042", "1")),
        Ok(Saved::Confirmed(_))
    ));
    assert_eq!(s.case("0558").unwrap().lines.len(), 2);
}

#[test]
fn refused_saves_do_not_use_up_fault_counters() {
    let mut s = seeded();
    s.patch_faults(FaultsPatch {
        fail_saves: Some(1),
        ..FaultsPatch::default()
    });
    assert_eq!(
        s.save_line("0558", line("0042", "x")),
        Err(SaveError::BadQty)
    );
    assert_eq!(s.faults().fail_saves, 1);
}

#[test]
fn reposting_a_case_changes_status_and_keeps_lines() {
    let mut s = seeded();
    s.save_line("0558", line("0042", "1")).unwrap();
    let closed = CaseSeed {
        case_id: "0558".into(),
        status: CaseStatus::Closed,
    };
    s.upsert_case(closed).unwrap();
    let case = s.case("0558").unwrap();
    assert_eq!((case.status, case.lines.len()), (CaseStatus::Closed, 1));
}

#[test]
fn reset_clears_faults_and_restores_the_idle_timeout() {
    let mut s = seeded();
    s.patch_faults(FaultsPatch {
        page_delay_ms: Some(500),
        session_idle_ms: Some(10),
        ..FaultsPatch::default()
    });
    assert_eq!(s.reset_faults(), Faults::none(IDLE));
}

#[test]
fn login_checks_the_password() {
    let mut s = seeded();
    let now = Instant::now();
    assert!(s.login("anna", "wrong", now).is_none());
    assert!(s.login("nobody", "pw", now).is_none());
    let token = s.login("anna", "pw", now).unwrap();
    assert_eq!(token.len(), 32);
    assert!(s.touch_session(&token, now));
    assert!(!s.touch_session("forged", now));
}

#[test]
fn sessions_expire_after_the_idle_time_and_activity_keeps_them_alive() {
    let mut s = seeded();
    let t0 = Instant::now();
    let token = s.login("anna", "pw", t0).unwrap();
    assert!(s.touch_session(&token, t0 + IDLE));
    assert!(s.touch_session(&token, t0 + IDLE * 2));
    assert!(!s.touch_session(&token, t0 + IDLE * 3 + Duration::from_millis(1)));
    assert!(
        !s.touch_session(&token, t0 + IDLE * 3),
        "an expired session stays gone"
    );
}

#[test]
fn session_faults_expire_sessions() {
    let mut s = seeded();
    let t0 = Instant::now();
    let token = s.login("anna", "pw", t0).unwrap();
    s.patch_faults(FaultsPatch {
        expire_sessions: true,
        ..FaultsPatch::default()
    });
    assert!(!s.touch_session(&token, t0));
    let token = s.login("anna", "pw", t0).unwrap();
    s.patch_faults(FaultsPatch {
        session_idle_ms: Some(100),
        ..FaultsPatch::default()
    });
    assert!(!s.touch_session(&token, t0 + Duration::from_millis(101)));
}

#[test]
fn empty_ids_are_refused() {
    let mut s = State::new(IDLE);
    let user = UserSeed {
        username: " ".into(),
        password: "pw".into(),
    };
    assert_eq!(s.upsert_user(user), Err(SeedError::Empty("username")));
}

#[test]
fn a_slow_commit_is_held_and_stored_only_on_commit() {
    let mut s = seeded();
    s.patch_faults(FaultsPatch {
        slow_commit: Some(SlowCommit { saves: 1, ms: 2000 }),
        ..FaultsPatch::default()
    });
    let Ok(Saved::Held {
        line: held,
        after,
        confirm,
    }) = s.save_line("0558", line("0042", "1"))
    else {
        panic!("not held");
    };
    assert_eq!((after, confirm), (Duration::from_secs(2), true));
    assert!(s.case("0558").unwrap().lines.is_empty());
    s.commit("0558", held).unwrap();
    assert_eq!(s.case("0558").unwrap().lines.len(), 1);
    assert!(matches!(
        s.save_line("0558", line("0042", "1")),
        Ok(Saved::Confirmed(_))
    ));
}

#[test]
fn a_reference_maxlength_cuts_the_stored_reference() {
    let mut s = seeded();
    s.patch_faults(FaultsPatch {
        reference_maxlength: Some(Some(6)),
        ..FaultsPatch::default()
    });
    let new = NewLine {
        item_no: "0042",
        qty: "1",
        reference: "OilMat æøå-123",
    };
    s.save_line("0558", new).unwrap();
    assert_eq!(s.case("0558").unwrap().lines[0].reference, "OilMat");
}
