//! Given/when/then tests of the settle rule (design.md rule 6): a save whose
//! outcome is unknown keeps its order from adding a line, and from failing,
//! until its settle time has passed; looking costs no attempt.

use oilmat_erp::event_log::commands::decide;
use oilmat_erp::event_log::{
    Command, EventKind, EvidencePaths, OrderData, RetryPolicy, Status, Views,
};
use oilmat_erp::order::Failure;

const ID: &str = "o-1";

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        initial_backoff_ms: 100,
        max_backoff_ms: 1_000,
        settle_ms: 60_000,
        crash_limit: 3,
    }
}

/// Decides `command` at `now` and folds its events in; the events.
fn run(views: &mut Views, now: u64, command: Command) -> Vec<EventKind> {
    let events = decide(views, &command).expect("decided");
    events
        .into_iter()
        .map(|new| {
            let event = new.stamp(views.last_seq + 1, now);
            views.apply(&event);
            event.kind
        })
        .collect()
}

fn received() -> Views {
    let mut views = Views::new();
    let order = OrderData {
        workshop: "w".into(),
        case_id: "1".into(),
        product_nr: "10".into(),
        product_amount: "1".into(),
        username: None,
    };
    let create = Command::Create {
        unique_id: ID.into(),
        order,
        credentials: None,
        trace_id: None,
        span_id: None,
    };
    run(&mut views, 0, create);
    views
}

/// Starts an attempt at `now`; whether it may add.
fn start(views: &mut Views, now: u64) -> (u32, bool) {
    let start = Command::StartAttempt {
        unique_id: ID.into(),
        trace_id: None,
        now_ms: now,
        policy: policy(),
    };
    match run(views, now, start).as_slice() {
        [EventKind::Processing { attempt, may_add }] => (*attempt, *may_add),
        other => panic!("{other:?}"),
    }
}

fn submit(views: &mut Views, now: u64, attempt: u32) {
    let submit = Command::SubmitSave {
        unique_id: ID.into(),
        attempt,
        trace_id: None,
    };
    run(views, now, submit);
}

/// Fails the attempt at `now`: whether final, and the retry time.
fn fail(views: &mut Views, now: u64, attempt: u32, failure: Failure) -> (bool, Option<u64>) {
    let fail = Command::Fail {
        unique_id: ID.into(),
        attempt,
        failure,
        evidence: EvidencePaths::default(),
        duration_ms: 1,
        policy: policy(),
        now_ms: now,
        trace_id: None,
        charge: true,
    };
    let events = run(views, now, fail);
    let is_final = events
        .iter()
        .any(|e| matches!(e, EventKind::Failed { is_final: true, .. }));
    let at = events.iter().find_map(|e| match e {
        EventKind::RetryScheduled { at_ms, .. } => Some(*at_ms),
        _ => None,
    });
    (is_final, at)
}

fn status(views: &Views) -> (Status, String) {
    let order = views.order(ID).unwrap();
    (order.status, order.reason.clone().unwrap_or_default())
}

#[test]
fn an_unconfirmed_save_only_looks_until_it_settles_then_may_add() {
    // Given a save submitted at 1 s whose confirmation timed out
    let mut views = received();
    let (attempt, may_add) = start(&mut views, 1_000);
    assert!(may_add);
    submit(&mut views, 1_000, attempt);
    let (is_final, at) = fail(&mut views, 4_000, attempt, Failure::timeout("confirm save"));
    assert!(!is_final);
    // When the retry starts before the settle time, then it only looks
    let (look, may_add) = start(&mut views, at.unwrap());
    assert!(!may_add);
    // and a look without the line is parked a few seconds, costing nothing
    let (is_final, at) = fail(&mut views, 5_000, look, Failure::unsettled());
    assert!(!is_final);
    assert_eq!(at, Some(8_000));
    assert_eq!(views.order(ID).unwrap().attempts_in_round, 1);
    // When the settle time has passed, then the next attempt may add.
    let (_, may_add) = start(&mut views, 61_000);
    assert!(may_add);
}

#[test]
fn used_up_attempts_do_not_fail_an_order_whose_save_is_unsettled() {
    // Given two attempts (the maximum), the second with an unconfirmed save
    let mut views = received();
    let (first, _) = start(&mut views, 0);
    fail(&mut views, 10, first, Failure::timeout("open case"));
    let (second, may_add) = start(&mut views, 200);
    assert!(may_add);
    submit(&mut views, 1_000, second);
    // When it times out, then it is not failed: a look is due after the settle time
    let (is_final, at) = fail(&mut views, 4_000, second, Failure::timeout("confirm save"));
    assert!(!is_final);
    assert_eq!(at, Some(61_000));
    assert_eq!(status(&views).0, Status::Processing);
    // When that look (it may not add: the attempts are used up) finds nothing,
    // then the order fails, saying why.
    let (look, may_add) = start(&mut views, 61_000);
    assert!(!may_add);
    let (is_final, _) = fail(&mut views, 62_000, look, Failure::unsettled());
    assert!(is_final);
    let (state, reason) = status(&views);
    assert_eq!(state, Status::Failed);
    assert!(
        reason.starts_with("timeout: save not confirmed"),
        "{reason}"
    );
}

#[test]
fn a_save_the_erp_refused_is_settled_at_once() {
    // Given a submitted save that the ERP answered with its error
    let mut views = received();
    let (attempt, _) = start(&mut views, 0);
    submit(&mut views, 100, attempt);
    let refused = Failure::erp_server_error("HTTP 500");
    let (is_final, at) = fail(&mut views, 200, attempt, refused);
    assert!(!is_final);
    // When the retry starts, then it may add at once.
    let (_, may_add) = start(&mut views, at.unwrap());
    assert!(may_add);
}

#[test]
fn old_processing_events_may_add() {
    let old = r#"{"v":1,"seq":2,"ts_ms":5,"unique_id":"o-1","kind":"processing","attempt":1}"#;
    let event: oilmat_erp::event_log::Event = serde_json::from_str(old).unwrap();
    assert_eq!(
        event.kind,
        EventKind::Processing {
            attempt: 1,
            may_add: true
        }
    );
}

#[test]
fn a_clear_during_an_attempt_that_books_the_line_ends_completed() {
    // Given an attempt in progress
    let mut views = received();
    let (attempt, _) = start(&mut views, 0);
    // When the task queue is cleared, then the order is failed: cleared
    run(
        &mut views,
        10,
        Command::Clear {
            queue: oilmat_erp::event_log::QueueKind::Task,
        },
    );
    assert_eq!(status(&views), (Status::Failed, "cleared".to_string()));
    // When the attempt then books its line, then the order is completed.
    let complete = Command::Complete {
        unique_id: ID.into(),
        attempt,
        already_present: false,
        duration_ms: 1,
        trace_id: None,
    };
    run(&mut views, 20, complete);
    assert_eq!(views.order(ID).unwrap().status, Status::Completed);
}

/// Starts an attempt at `now` that the process then dies in (it records
/// no outcome); what the start decided.
fn start_and_die(views: &mut Views, now: u64) -> Vec<EventKind> {
    let start = Command::StartAttempt {
        unique_id: ID.into(),
        trace_id: None,
        now_ms: now,
        policy: policy(),
    };
    run(views, now, start)
}

fn crash_loop_reason(views: &Views) -> String {
    let (state, reason) = status(views);
    assert_eq!(state, Status::Failed, "{reason}");
    assert!(reason.starts_with("crash loop: "), "{reason}");
    reason
}

#[test]
fn an_attempt_cut_short_by_a_crash_is_not_one_of_its_attempts() {
    // Given an order whose first attempt the process died in
    let mut views = received();
    start_and_die(&mut views, 0);
    // When the worker starts it again after the restart
    let (attempt, may_add) = start(&mut views, 1_000);
    // Then that is attempt 2, it may add, and only it is counted
    assert_eq!((attempt, may_add), (2, true));
    let order = views.order(ID).unwrap();
    assert_eq!((order.attempts_in_round, order.crashes), (1, 1));
}

#[test]
fn a_crash_loop_without_a_save_fails_at_once_saying_so() {
    // Given an order the process died in three times (the limit), never saving
    let mut views = received();
    for now in [0, 10, 20] {
        start_and_die(&mut views, now);
    }
    // When the worker takes it again, then it fails instead of a fourth try
    let events = start_and_die(&mut views, 30);
    assert!(
        matches!(
            events.as_slice(),
            [EventKind::Failed { is_final: true, .. }]
        ),
        "{events:?}"
    );
    let reason = crash_loop_reason(&views);
    assert!(reason.contains("during 3 attempts"), "{reason}");
    assert!(
        reason.contains("none of its saves was submitted"),
        "{reason}"
    );
}

/// An order the process died in three times, the first time right after
/// clicking save at 1 s.
fn crash_loop_after_a_save() -> Views {
    let mut views = received();
    start_and_die(&mut views, 0);
    submit(&mut views, 1_000, 1);
    start_and_die(&mut views, 2_000);
    start_and_die(&mut views, 3_000);
    views
}

#[test]
fn a_crash_loop_after_a_save_looks_for_the_line_and_completes_when_found() {
    let mut views = crash_loop_after_a_save();
    // When it is taken again, then it only looks
    let (look, may_add) = start(&mut views, 4_000);
    assert!(!may_add);
    // When the look finds the line, then the order is completed, never failed
    let complete = Command::Complete {
        unique_id: ID.into(),
        attempt: look,
        already_present: true,
        duration_ms: 1,
        trace_id: None,
    };
    run(&mut views, 5_000, complete);
    assert_eq!(views.order(ID).unwrap().status, Status::Completed);
}

#[test]
fn a_crash_loop_after_a_save_fails_only_after_a_settled_look_finds_nothing() {
    let mut views = crash_loop_after_a_save();
    // When a look before the settle time finds nothing, then it waits
    let (look, may_add) = start(&mut views, 4_000);
    assert!(!may_add);
    let (is_final, at) = fail(&mut views, 5_000, look, Failure::unsettled());
    assert!(!is_final);
    assert_eq!(status(&views).0, Status::Processing);
    assert!(at.is_some());
    // When a look after the settle time (61 s) finds nothing, then it fails
    let (look, may_add) = start(&mut views, 61_000);
    assert!(!may_add);
    let (is_final, _) = fail(&mut views, 62_000, look, Failure::unsettled());
    assert!(is_final);
    let reason = crash_loop_reason(&views);
    assert!(reason.contains("its line is not on the case"), "{reason}");
}

#[test]
fn a_crash_loop_whose_look_dies_too_says_a_save_may_have_landed() {
    let mut views = crash_loop_after_a_save();
    // Given the look before failing died as well
    let (_, may_add) = start(&mut views, 61_000);
    assert!(!may_add);
    // When the worker takes the order again, then it fails saying so
    let events = start_and_die(&mut views, 62_000);
    assert!(
        matches!(
            events.as_slice(),
            [EventKind::Failed { is_final: true, .. }]
        ),
        "{events:?}"
    );
    let reason = crash_loop_reason(&views);
    assert!(reason.contains("during 4 attempts"), "{reason}");
    assert!(reason.contains("a save may have landed"), "{reason}");
}

#[test]
fn a_requeue_starts_a_new_count_of_crashes() {
    // Given an order failed as a crash loop
    let mut views = received();
    for now in [0, 10, 20, 30] {
        start_and_die(&mut views, now);
    }
    crash_loop_reason(&views);
    // When it is requeued, then it may be tried (and add) again
    let requeue = Command::Requeue {
        unique_id: Some(ID.into()),
    };
    run(&mut views, 40, requeue);
    let (_, may_add) = start(&mut views, 50);
    assert!(may_add);
    assert_eq!(views.order(ID).unwrap().crashes, 0);
}

#[test]
fn an_order_given_up_while_the_erp_is_down_says_when_a_save_may_have_landed() {
    // Given an order whose save was submitted, then the ERP went down
    let mut views = received();
    let (attempt, _) = start(&mut views, 0);
    submit(&mut views, 100, attempt);
    let down = Failure::timeout("confirm save");
    fail(&mut views, 200, attempt, down);
    // When it waits past its maximum age, then it fails saying the save may have landed
    let give_up = Command::GiveUp {
        unique_id: ID.into(),
        reason: "ERP unavailable since 2026-12-03T10:00:00Z".into(),
    };
    run(&mut views, 1_000, give_up);
    let (state, reason) = status(&views);
    assert_eq!(state, Status::Failed);
    assert!(reason.starts_with("ERP unavailable since"), "{reason}");
    assert!(reason.contains("it may have landed"), "{reason}");
}

/// Clears the task queue at `now`; the events.
fn clear(views: &mut Views, now: u64) -> Vec<EventKind> {
    let clear = Command::Clear {
        queue: oilmat_erp::event_log::QueueKind::Task,
    };
    run(views, now, clear)
}

fn complete(views: &mut Views, now: u64, attempt: u32, already_present: bool) {
    let complete = Command::Complete {
        unique_id: ID.into(),
        attempt,
        already_present,
        duration_ms: 1,
        trace_id: None,
    };
    run(views, now, complete);
}

/// An order whose save at 1 s was never confirmed: parked, a look due.
fn parked() -> Views {
    let mut views = received();
    let (attempt, _) = start(&mut views, 1_000);
    submit(&mut views, 1_000, attempt);
    let (is_final, at) = fail(&mut views, 4_000, attempt, Failure::timeout("confirm save"));
    assert!(!is_final && at.is_some());
    views
}

fn on_queue(views: &Views, kind: oilmat_erp::event_log::QueueKind) -> bool {
    views.queue(kind).any(|o| o.unique_id == ID)
}

#[test]
fn a_clear_of_a_parked_order_waits_for_its_settle_check_which_finds_the_line() {
    use oilmat_erp::event_log::QueueKind;
    // Given a parked order (a save submitted, its outcome unknown)
    let mut views = parked();
    // When the task queue is cleared, then the order is not cleared yet:
    // it stays on the task queue, saying why
    let events = clear(&mut views, 5_000);
    assert!(matches!(
        events.as_slice(),
        [EventKind::Cleared {
            after_check: true,
            ..
        }]
    ));
    let (state, reason) = status(&views);
    assert_eq!(state, Status::Processing);
    assert!(reason.starts_with("to be cleared"), "{reason}");
    assert!(on_queue(&views, QueueKind::Task));
    assert_eq!(views.counters.cleared, 0);
    // and a second clear does not touch it again.
    assert!(clear(&mut views, 5_500).is_empty());
    // When its next attempt starts, even after the settle time, then it only looks
    let (look, may_add) = start(&mut views, 70_000);
    assert!(!may_add);
    // When the look finds the line, then the order is completed.
    complete(&mut views, 71_000, look, true);
    assert_eq!(views.order(ID).unwrap().status, Status::Completed);
    assert!(!on_queue(&views, QueueKind::Task));
    assert_eq!(views.counters.cleared, 0);
}

#[test]
fn a_clear_of_a_parked_order_takes_effect_when_the_look_after_settling_finds_nothing() {
    use oilmat_erp::event_log::QueueKind;
    // Given a parked order, cleared
    let mut views = parked();
    clear(&mut views, 5_000);
    // When a look before the settle time finds nothing, then it looks again later
    let (look, may_add) = start(&mut views, 7_000);
    assert!(!may_add);
    let (is_final, at) = fail(&mut views, 7_500, look, Failure::unsettled());
    assert!(!is_final);
    assert!(at.is_some());
    assert_eq!(status(&views).0, Status::Processing);
    // When a look after the settle time (61 s) finds nothing, then the
    // clear takes effect: failed, reason cleared, on no queue.
    let (look, may_add) = start(&mut views, 61_000);
    assert!(!may_add);
    let unique_id = ID.to_string();
    let fail = Command::Fail {
        unique_id,
        attempt: look,
        failure: Failure::unsettled(),
        evidence: EvidencePaths::default(),
        duration_ms: 1,
        policy: policy(),
        now_ms: 62_000,
        trace_id: None,
        charge: true,
    };
    let events = run(&mut views, 62_000, fail);
    assert!(matches!(
        events.as_slice(),
        [EventKind::Cleared {
            after_check: false,
            ..
        }]
    ));
    assert_eq!(status(&views), (Status::Failed, "cleared".to_string()));
    assert!(!on_queue(&views, QueueKind::Task));
    assert!(!on_queue(&views, QueueKind::Error));
    assert_eq!(views.counters.cleared, 1);
}

#[test]
fn a_clear_before_the_save_click_keeps_the_attempt_from_saving() {
    // Given an attempt in progress that has not submitted its save
    let mut views = received();
    let (attempt, _) = start(&mut views, 0);
    // When the task queue is cleared, then the order is cleared at once
    let events = clear(&mut views, 10);
    assert!(matches!(
        events.as_slice(),
        [EventKind::Cleared {
            after_check: false,
            ..
        }]
    ));
    assert_eq!(status(&views), (Status::Failed, "cleared".to_string()));
    // and the attempt may no longer submit its save.
    let submit = Command::SubmitSave {
        unique_id: ID.into(),
        attempt,
        trace_id: None,
    };
    assert!(decide(&views, &submit).is_err());
}

#[test]
fn a_clear_during_an_attempt_after_its_save_click_ends_completed_when_it_lands() {
    // Given an attempt that has clicked save, its confirmation still awaited
    let mut views = received();
    let (attempt, _) = start(&mut views, 0);
    submit(&mut views, 100, attempt);
    // When the task queue is cleared, then the clear waits for the outcome
    clear(&mut views, 200);
    assert_eq!(status(&views).0, Status::Processing);
    // When the save is confirmed, then the order is completed.
    complete(&mut views, 300, attempt, false);
    assert_eq!(views.order(ID).unwrap().status, Status::Completed);
}
