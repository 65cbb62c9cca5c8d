//! Reading the index from a snapshot of the database (consistent with the
//! log at one instant; never on the journal's writer thread).

use fjall::{Database, Keyspace, Readable, Snapshot};

use super::*;

/// One page (`page` from 0, `per_page` rows) of the orders that pass
/// `filter`, newest first, and how many pass in all. Without a text or
/// time filter the total comes from the index's counts and the scan stops
/// at the page; otherwise the rows in the time range are scanned once.
pub fn order_page(
    db: &Database,
    ks: &Keyspace,
    filter: &Filter,
    page: usize,
    per_page: usize,
) -> Result<OrderPage> {
    let snapshot = db.snapshot();
    let counted = filter.text.is_none() && filter.from_ms.is_none() && filter.to_ms.is_none();
    let skip = page.saturating_mul(per_page);
    let mut result = OrderPage::default();
    let Some((low, high)) = key_range(filter) else {
        return Ok(result);
    };
    for guard in snapshot.range(ks, low..=high) {
        if counted && result.rows.len() == per_page {
            break;
        }
        let (_, value) = guard
            .into_inner()
            .map_err(|e| Error::storage("read order index", e))?;
        let Some(&status) = value.first() else {
            continue;
        };
        if !filter.keeps_status(status) {
            continue;
        }
        let in_page = result.total >= skip && result.rows.len() < per_page;
        if filter.text.is_some() {
            let row = decode_row(&value)?;
            if !filter.keeps_text(&row) {
                continue;
            }
            if in_page {
                result.rows.push(row);
            }
        } else if in_page {
            result.rows.push(decode_row(&value)?);
        }
        result.total += 1;
    }
    if counted {
        let meta = read_meta(&snapshot, ks)?;
        result.total = meta.count(filter.status.as_deref()).unwrap_or(0) as usize;
    }
    Ok(result)
}

/// The keys of the rows first seen in the filter's time range (inclusive),
/// or `None` when the range is empty.
fn key_range(filter: &Filter) -> Option<([u8; 17], [u8; 17])> {
    let low = match filter.to_ms {
        Some(0) => return None,
        Some(to) => row_key(to - 1, u64::MAX),
        None => row_key(u64::MAX, u64::MAX),
    };
    let high = row_key(filter.from_ms.unwrap_or(0), 0);
    (low <= high).then_some((low, high))
}

/// The row of the order with that unique id, if the index has it.
pub fn order_row(db: &Database, ks: &Keyspace, unique_id: &str) -> Result<Option<OrderRow>> {
    let snapshot = db.snapshot();
    let read = |e| Error::storage("read order index", e);
    let Some(key) = snapshot.get(ks, id_key(unique_id)).map_err(read)? else {
        return Ok(None);
    };
    let value = snapshot.get(ks, key).map_err(read)?;
    value.map(|v| decode_row(&v)).transpose()
}

/// The workshop's last `limit` operator actions, newest first: (when, what by whom).
pub fn operator_actions(db: &Database, ks: &Keyspace, limit: usize) -> Result<Vec<(u64, String)>> {
    newest(db, ks, ACTION, limit, "action")
}

/// The workshop's last `limit` `integration down` / `up` events, oldest
/// first (what its outages are told from).
pub fn health_events(db: &Database, ks: &Keyspace, limit: usize) -> Result<Vec<Event>> {
    let mut events: Vec<Event> = newest(db, ks, HEALTH, limit, "health event")?;
    events.reverse();
    Ok(events)
}

/// The newest `limit` JSON values kept under `prefix` (keyed newest first).
fn newest<T: serde::de::DeserializeOwned>(
    db: &Database,
    ks: &Keyspace,
    prefix: u8,
    limit: usize,
    what: &str,
) -> Result<Vec<T>> {
    let snapshot = db.snapshot();
    snapshot
        .prefix(ks, [prefix])
        .take(limit)
        .map(|guard| {
            let (_, value) = guard
                .into_inner()
                .map_err(|e| Error::storage("read order index", e))?;
            serde_json::from_slice(&value)
                .map_err(|e| Error::Corrupt(format!("order index {what}: {e}")))
        })
        .collect()
}

fn read_meta(snapshot: &Snapshot, ks: &Keyspace) -> Result<Meta> {
    let value = snapshot
        .get(ks, META)
        .map_err(|e| Error::storage("read order index", e))?;
    Ok(value
        .map(|v| decode_meta(&v))
        .transpose()?
        .unwrap_or_default())
}
