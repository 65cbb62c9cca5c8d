//! The index on a real fjall log in a temp dir: its rows are the fold of
//! the log, its pages and filters are the in-memory ones, and it is rebuilt
//! (missing, of another version) or caught up (behind the log) at open.

use super::*;
use crate::event_log::store::Store;
use crate::event_log::OrderData;

fn event(seq: u64, id: Option<&str>, kind: EventKind) -> Event {
    Event {
        v: 1,
        seq,
        ts_ms: seq * 1000,
        unique_id: id.map(str::to_string),
        trace_id: None,
        kind,
    }
}

fn received(seq: u64, id: &str, case: &str) -> Event {
    let order = OrderData {
        workshop: "w".into(),
        case_id: case.into(),
        product_nr: "10".into(),
        product_amount: "1.5".into(),
        username: None,
    };
    let kind = EventKind::Received {
        order,
        credentials_ref: None,
        span_id: None,
    };
    event(seq, Some(id), kind)
}

fn processing(seq: u64, id: &str) -> Event {
    let kind = EventKind::Processing {
        attempt: 1,
        may_add: true,
    };
    event(seq, Some(id), kind)
}

fn sample() -> Vec<Event> {
    let completed = EventKind::Completed {
        attempt: 1,
        already_present: false,
        duration_ms: 5,
    };
    let failed = EventKind::Failed {
        reason: "unknown item: 10".into(),
        uncharged: false,
        failure: None,
        is_final: true,
        attempt: 1,
        screenshot: None,
        page_source: None,
        duration_ms: 5,
    };
    let action = EventKind::OperatorAction {
        action: "stop worker".into(),
        by: "admin".into(),
    };
    vec![
        received(1, "a", "100"),
        received(2, "b", "200"),
        processing(3, "a"),
        event(4, Some("a"), completed),
        processing(5, "b"),
        event(6, Some("b"), failed),
        received(7, "c", "100"),
        event(8, None, action),
    ]
}

/// A store in a temp dir with `events` appended, one batch per `chunk`.
fn store_with(events: &[Event], chunk: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for part in events.chunks(chunk) {
        store.append(part, &[]).unwrap();
    }
    (dir, store)
}

fn all(store: &Store) -> Vec<OrderRow> {
    store
        .order_page(&Filter::default(), 0, usize::MAX)
        .unwrap()
        .rows
}

#[test]
fn orders_fold_newest_first_with_their_status() {
    let rows = fold(&sample());
    let ids: Vec<_> = rows.iter().map(|r| r.view.unique_id.as_str()).collect();
    assert_eq!(ids, ["c", "b", "a"]);
    assert_eq!(rows[1].view.status, Status::Failed);
    assert_eq!(rows[1].failure, Some(FailureKind::UnknownItem));
    assert_eq!(rows[2].view.status, Status::Completed);
    assert_eq!(rows[2].last_ms, 4000);
    for chunk in [1, 3, 100] {
        let (_dir, store) = store_with(&sample(), chunk);
        assert_eq!(all(&store), rows, "batches of {chunk}");
    }
}

#[test]
fn filters_and_pages() {
    let (_dir, store) = store_with(&sample(), 2);
    let rows = fold(&sample());
    let check = |filter: &Filter, page: usize, per_page: usize| {
        let read = store.order_page(filter, page, per_page).unwrap();
        assert_eq!(read, page_of(&rows, filter, page, per_page), "{filter:?}");
        read
    };
    let failed = Filter {
        status: Some("failed".into()),
        ..Filter::default()
    };
    assert_eq!(check(&failed, 0, 10).total, 1);
    let case = Filter {
        text: Some("10".into()),
        ..Filter::default()
    };
    assert_eq!(check(&case, 0, 10).total, 2);
    let time = Filter {
        from_ms: Some(2000),
        to_ms: Some(7000),
        ..Filter::default()
    };
    assert_eq!(check(&time, 0, 10).rows[0].view.unique_id, "b");
    let second = check(&Filter::default(), 1, 2);
    assert_eq!((second.rows.len(), second.total), (1, 3));
    let unknown = Filter {
        status: Some("lost".into()),
        ..Filter::default()
    };
    assert_eq!(check(&unknown, 0, 10).total, 0);
    let empty = Filter {
        from_ms: Some(5000),
        to_ms: Some(5000),
        ..Filter::default()
    };
    assert_eq!(check(&empty, 0, 10).total, 0);
    for page in 0..3 {
        check(&Filter::default(), page, 1);
        check(&case, page, 1);
        check(&time, page, 1);
    }
}

#[test]
fn rows_and_actions_are_found() {
    let (_dir, store) = store_with(&sample(), 3);
    let b = store.order_row("b").unwrap().unwrap();
    assert_eq!(b.view.reason.as_deref(), Some("unknown item: 10"));
    assert!(store.order_row("zz").unwrap().is_none());
    let actions = store.operator_actions(10).unwrap();
    assert_eq!(actions, vec![(8000, "stop worker by admin".to_string())]);
}

/// The index's rows and meta as stored.
fn state(store: &Store) -> (Vec<OrderRow>, Meta) {
    let meta = read_meta_of(store);
    (all(store), meta)
}

fn read_meta_of(store: &Store) -> Meta {
    let db = fjall_db(store);
    let ks = db.keyspace(KEYSPACE, Default::default).unwrap();
    ks.get(META)
        .unwrap()
        .map(|v| decode_meta(&v).unwrap())
        .unwrap()
}

fn fjall_db(store: &Store) -> fjall::Database {
    store.database().clone()
}

#[test]
fn a_deleted_index_is_rebuilt_at_open() {
    let events = sample();
    let (dir, store) = store_with(&events, 2);
    let before = state(&store);
    assert_eq!(before.1.counts, [1, 0, 1, 0, 1]);
    let db = fjall_db(&store);
    let ks = db.keyspace(KEYSPACE, Default::default).unwrap();
    db.delete_keyspace(ks).unwrap();
    drop((db, store));
    let db = fjall::Database::builder(dir.path()).open().unwrap();
    assert!(!db.keyspace_exists(KEYSPACE), "the index is gone");
    drop(db);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(state(&store), before);
}

#[test]
fn an_index_of_another_version_is_rebuilt() {
    let (dir, store) = store_with(&sample(), 4);
    let before = state(&store);
    let db = fjall_db(&store);
    let ks = db.keyspace(KEYSPACE, Default::default).unwrap();
    let stale = Meta {
        version: 0,
        counts: [9; 5],
        ..before.1.clone()
    };
    ks.insert(META, serde_json::to_vec(&stale).unwrap())
        .unwrap();
    ks.insert(row_key(1, 1), b"junk".to_vec()).unwrap();
    drop((ks, db, store));
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(state(&store), before);
}

#[test]
fn an_index_behind_the_log_catches_up() {
    let events = sample();
    let (dir, store) = store_with(&events[..4], 4);
    // An older build appends without the index.
    let db = fjall_db(&store);
    let log = db.keyspace("events", Default::default).unwrap();
    for e in &events[4..] {
        log.insert(e.seq.to_be_bytes(), serde_json::to_vec(e).unwrap())
            .unwrap();
    }
    drop((log, db, store));
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(all(&store), fold(&events));
    assert_eq!(read_meta_of(&store).last_seq, 8);
    assert_eq!(read_meta_of(&store).counts, [1, 0, 1, 0, 1]);
}
