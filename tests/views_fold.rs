//! Given random command sequences run through the real journal (fjall on
//! disk), the views kept incrementally equal the views folded from the log,
//! and equal the views rebuilt when the log is opened again.

use oilmat_erp::event_log::{
    Command, EvidencePaths, Journal, OrderData, QueueKind, RetryPolicy, Views,
};
use proptest::prelude::*;

fn order(case: u8) -> OrderData {
    OrderData {
        workshop: "w".into(),
        case_id: format!("{case:03}"),
        product_nr: "10".into(),
        product_amount: "4.5".into(),
        username: None,
    }
}

fn arb_command() -> impl Strategy<Value = Command> {
    let id = (0u8..6).prop_map(|i| format!("id{i}"));
    let policy = RetryPolicy {
        max_attempts: 3,
        initial_backoff_ms: 10,
        max_backoff_ms: 40,
    };
    prop_oneof![
        (id.clone(), 0u8..3, any::<bool>()).prop_map(|(unique_id, case, creds)| Command::Create {
            unique_id,
            order: order(case),
            credentials: creds.then(|| vec![1, 2, 3]),
            trace_id: Some("t".into()),
        }),
        id.clone().prop_map(|unique_id| Command::RejectCreate {
            unique_id,
            reason: "missing field case_id".into(),
            trace_id: None,
        }),
        id.clone().prop_map(|unique_id| Command::StartAttempt {
            unique_id,
            trace_id: None
        }),
        (id.clone(), 1u32..5, any::<bool>()).prop_map(|(unique_id, attempt, already_present)| {
            Command::Complete {
                unique_id,
                attempt,
                already_present,
                duration_ms: 5,
                trace_id: None,
            }
        }),
        (id.clone(), 1u32..5, any::<bool>()).prop_map(move |(unique_id, attempt, retryable)| {
            Command::Fail {
                unique_id,
                attempt,
                reason: "timeout: confirm save".into(),
                retryable,
                evidence: EvidencePaths::default(),
                duration_ms: 7,
                policy,
                now_ms: 1_000,
                trace_id: None,
            }
        }),
        prop_oneof![Just(QueueKind::Task), Just(QueueKind::Error)]
            .prop_map(|queue| Command::Clear { queue }),
        prop::option::of(id).prop_map(|unique_id| Command::Requeue { unique_id }),
        (any::<bool>(), any::<bool>()).prop_map(|(running, by_operator)| Command::Worker {
            running,
            by_operator
        }),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn incremental_views_equal_the_fold_of_the_log(commands in prop::collection::vec(arb_command(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let (incremental, folded) = rt.block_on(async {
            let journal = Journal::open(dir.path()).unwrap();
            for command in commands {
                journal.execute(command).await.unwrap().ok();
            }
            let events = journal.events(None).await.unwrap();
            let incremental = journal.views().clone();
            journal.close().await;
            (incremental, Views::from_events(&events))
        });
        prop_assert_eq!(&incremental, &folded);
        let reopened = rt.block_on(async {
            let journal = Journal::open(dir.path()).unwrap();
            let views = journal.views().clone();
            journal.close().await;
            views
        });
        prop_assert_eq!(&incremental, &reopened);
        // Every order on a queue is in a state that belongs there.
        for o in incremental.queue(QueueKind::Task) {
            prop_assert!(o.is_pending());
        }
    }
}

#[test]
fn a_second_process_cannot_open_a_locked_workshop() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Journal::open(dir.path()).unwrap();
    let second = Journal::open(dir.path());
    assert!(matches!(
        second,
        Err(oilmat_erp::event_log::Error::Locked(_))
    ));
}
