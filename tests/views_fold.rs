//! Given random command sequences run through the real journal (fjall on
//! disk), the views kept incrementally equal the views folded from the log,
//! and equal the views rebuilt when the log is opened again. A snapshot of
//! the views with the events after it folded in equals the fold of the
//! whole log, whether it is restored by hand or by a start after a crash.
//! The order index written beside the log equals the fold of the log, page
//! by page and filter by filter, and again once rebuilt from the log.

use std::path::Path;

use oilmat_erp::event_log::order_index::{self, Filter, OrderRow};
use oilmat_erp::event_log::{
    snapshot, Command, Event, EvidencePaths, Journal, OrderData, QueueKind, Refusal, RetryPolicy,
    Snapshot, Views,
};
use oilmat_erp::order::{Failure, FailureKind};
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
        settle_ms: 100,
        crash_limit: 2,
    };
    prop_oneof![
        (id.clone(), 0u8..3, any::<bool>()).prop_map(|(unique_id, case, creds)| Command::Create {
            unique_id,
            order: order(case),
            credentials: creds.then(|| vec![1, 2, 3]),
            trace_id: Some("t".into()),
            span_id: None,
        }),
        id.clone().prop_map(|unique_id| Command::RejectCreate {
            unique_id,
            reason: "missing field case_id".into(),
            trace_id: None,
        }),
        (id.clone(), 0u64..300).prop_map(move |(unique_id, now_ms)| Command::StartAttempt {
            unique_id,
            trace_id: None,
            now_ms,
            policy,
        }),
        (id.clone(), 1u32..5).prop_map(|(unique_id, attempt)| Command::SubmitSave {
            unique_id,
            attempt,
            trace_id: None,
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
        (id.clone(), 1u32..5, any::<bool>(), any::<bool>()).prop_map(
            move |(unique_id, attempt, retryable, charge)| {
                Command::Fail {
                    unique_id,
                    attempt,
                    failure: if retryable {
                        Failure::timeout("confirm save")
                    } else {
                        Failure::new(FailureKind::UnknownItem, "unknown item: 99")
                    },
                    evidence: EvidencePaths::default(),
                    duration_ms: 7,
                    policy,
                    now_ms: 1_000,
                    trace_id: None,
                    charge,
                }
            }
        ),
        prop_oneof![Just(QueueKind::Task), Just(QueueKind::Error)]
            .prop_map(|queue| Command::Clear { queue }),
        prop::option::of(id).prop_map(|unique_id| Command::Requeue { unique_id }),
        (any::<bool>(), any::<bool>()).prop_map(|(running, by_operator)| Command::Worker {
            running,
            by_operator
        }),
        (
            prop::option::of(prop_oneof![Just("kim".to_string()), Just("bo".to_string())]),
            prop::option::of(Just("HTTP 503".to_string())),
            0u64..10_000,
        )
            .prop_map(|(login, fault, since_ms)| Command::ReportErp {
                login,
                fault,
                since_ms
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

/// Runs `commands` through the journal of the workshop in `dir` and closes it
/// (which snapshots the views); the views and the whole log.
fn run_and_close(dir: &Path, commands: Vec<Command>) -> (Views, Vec<Event>) {
    runtime().block_on(async {
        let journal = Journal::open(dir).unwrap();
        for command in commands {
            journal.execute(command).await.unwrap().ok();
        }
        let events = journal.events(None).await.unwrap();
        let views = journal.views().clone();
        journal.close().await;
        (views, events)
    })
}

/// The views a start of the workshop in `dir` recovers.
fn reopened(dir: &Path) -> Views {
    runtime().block_on(async {
        let journal = Journal::open(dir).unwrap();
        let views = journal.views().clone();
        journal.close().await;
        views
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_snapshot_and_the_events_after_it_equal_the_fold(
        commands in prop::collection::vec(arb_command(), 1..60),
        split in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (_, events) = run_and_close(dir.path(), commands);
        let at = split.index(events.len() + 1);
        let head = Views::from_events(&events[..at]);
        // Through the snapshot file's encoding, as a start reads it.
        let bytes = serde_json::to_vec(&head.snapshot()).unwrap();
        let mut restored = Views::restore(serde_json::from_slice::<Snapshot>(&bytes).unwrap());
        prop_assert_eq!(&restored, &head);
        for event in &events[at..] {
            restored.apply(event);
        }
        prop_assert_eq!(&restored, &Views::from_events(&events));
    }

    #[test]
    fn a_start_after_a_crash_folds_the_tail_onto_the_last_snapshot(
        first in prop::collection::vec(arb_command(), 0..40),
        then in prop::collection::vec(arb_command(), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = snapshot::path(dir.path());
        run_and_close(dir.path(), first);
        let older = std::fs::read(&file).ok();
        let (views, events) = run_and_close(dir.path(), then);
        prop_assert_eq!(&views, &Views::from_events(&events));
        // As if the process had died before its last snapshot.
        match &older {
            Some(bytes) => std::fs::write(&file, bytes).unwrap(),
            None => drop(std::fs::remove_file(&file)),
        }
        prop_assert_eq!(&reopened(dir.path()), &views);
        // No snapshot at all: the whole log is folded.
        let _ = std::fs::remove_file(&file);
        prop_assert_eq!(&reopened(dir.path()), &views);
        // A snapshot that does not fit the log is ignored.
        let stranger = tempfile::tempdir().unwrap();
        run_and_close(stranger.path(), vec![Command::Worker { running: false, by_operator: true }]);
        std::fs::copy(snapshot::path(stranger.path()), &file).unwrap();
        prop_assert_eq!(&reopened(dir.path()), &views);
        std::fs::write(&file, b"{\"torn").unwrap();
        prop_assert_eq!(&reopened(dir.path()), &views);
    }
}

#[test]
fn completed_orders_keep_their_id_not_their_details() {
    let dir = tempfile::tempdir().unwrap();
    let id = || "done-1".to_string();
    let (views, _) = run_and_close(
        dir.path(),
        vec![
            Command::Create {
                unique_id: id(),
                order: order(1),
                credentials: None,
                trace_id: None,
                span_id: None,
            },
            Command::StartAttempt {
                unique_id: id(),
                trace_id: None,
                now_ms: 0,
                policy: RetryPolicy::default(),
            },
            Command::Complete {
                unique_id: id(),
                attempt: 1,
                already_present: false,
                duration_ms: 5,
                trace_id: None,
            },
        ],
    );
    assert!(views.orders.is_empty());
    assert_eq!((views.order_count(), views.completed_count()), (1, 1));
    let done = views.order("done-1").unwrap();
    assert_eq!(done.status, oilmat_erp::event_log::Status::Completed);
    assert_eq!(done.order, None);
    // The id still makes no second order.
    let again = oilmat_erp::event_log::commands::decide(
        &views,
        &Command::Create {
            unique_id: id(),
            order: order(1),
            credentials: None,
            trace_id: None,
            span_id: None,
        },
    );
    assert!(matches!(again, Err(Refusal::Duplicate(_))));
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

/// The commands of [`arb_command`] and operator actions (on the workshop or
/// an order), which the order index also keeps.
fn arb_command_or_action() -> impl Strategy<Value = Command> {
    let action = (
        prop::option::of((0u8..6).prop_map(|i| format!("id{i}"))),
        any::<bool>(),
    )
        .prop_map(|(unique_id, admin)| Command::RecordOperatorAction {
            unique_id,
            action: "requeue".into(),
            by: if admin { "admin" } else { "support" }.into(),
        });
    prop_oneof![8 => arb_command(), 1 => action]
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let status = prop::option::of(prop_oneof![
        Just("received"),
        Just("processing"),
        Just("completed"),
        Just("bad request"),
        Just("failed"),
    ]);
    let text = prop::option::of(prop_oneof![Just("ID1"), Just("00"), Just("2"), Just("x")]);
    let ms = || prop::option::of(0u64..3);
    (status, ms(), ms(), text).prop_map(|(status, from, to, text)| Filter {
        status: status.map(str::to_string),
        from_ms: from,
        to_ms: to,
        text: text.map(str::to_string),
    })
}

/// The whole index of the open journal, newest first.
async fn index_rows(journal: &Journal) -> Vec<OrderRow> {
    journal
        .order_page(Filter::default(), 0, usize::MAX)
        .await
        .unwrap()
        .rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn the_order_index_equals_the_fold_of_the_log(
        commands in prop::collection::vec(arb_command_or_action(), 1..60),
        filters in prop::collection::vec(arb_filter(), 4),
        per_page in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let (rows, folded, pages) = rt.block_on(async {
            let journal = Journal::open(dir.path()).unwrap();
            for command in commands {
                journal.execute(command).await.unwrap().ok();
            }
            let events = journal.events(None).await.unwrap();
            let folded = order_index::fold(&events);
            // Times in the filters are the events' ms, relative to the first.
            let base = events.first().map_or(0, |e| e.ts_ms);
            let mut pages = Vec::new();
            for filter in filters {
                let filter = Filter {
                    from_ms: filter.from_ms.map(|d| base + d),
                    to_ms: filter.to_ms.map(|d| base + d),
                    ..filter
                };
                for page in 0..3 {
                    let read = journal.order_page(filter.clone(), page, per_page).await.unwrap();
                    pages.push((read, order_index::page_of(&folded, &filter, page, per_page)));
                }
            }
            let rows = index_rows(&journal).await;
            journal.close().await;
            (rows, folded, pages)
        });
        prop_assert_eq!(&rows, &folded);
        for (read, expected) in pages {
            prop_assert_eq!(read, expected);
        }
        // Deleted, the index is rebuilt from the log at the next start.
        let db = fjall::Database::builder(dir.path().join("log")).open().unwrap();
        let ks = db.keyspace(order_index::KEYSPACE, Default::default).unwrap();
        db.delete_keyspace(ks).unwrap();
        drop(db);
        let rebuilt = rt.block_on(async {
            let journal = Journal::open(dir.path()).unwrap();
            let rows = index_rows(&journal).await;
            journal.close().await;
            rows
        });
        prop_assert_eq!(&rebuilt, &folded);
    }
}
