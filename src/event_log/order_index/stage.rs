//! Writing the index: the rows an append changes, staged into the append's
//! own batch; and bringing the index up to the log at open (a rebuild when
//! it is missing or of another version).

use std::collections::HashMap;
use std::time::Instant;

use fjall::{Database, Keyspace, OwnedWriteBatch as WriteBatch, PersistMode};

use super::*;

/// Events folded per batch while the index is rebuilt.
const REBUILD_CHUNK: usize = 10_000;

/// A row an append changes.
struct Touched {
    row: OrderRow,
    /// Not in the index yet (its id key is written too).
    new: bool,
    /// Already counted under its status in the meta.
    counted: bool,
}

/// Stages into `batch` what `events` change in the index: the rows of the
/// orders they concern, the workshop's operator actions and the meta.
/// Reads the rows it changes from the index as committed (one lookup per
/// order of the batch, none for a new one beyond its id's).
pub fn stage(ks: &Keyspace, batch: &mut WriteBatch, events: &[Event]) -> Result<()> {
    let mut meta = read_meta(ks)?.unwrap_or_else(fresh_meta);
    let mut touched: HashMap<&str, Touched> = HashMap::new();
    for event in events {
        meta.last_seq = meta.last_seq.max(event.seq);
        if let (EventKind::OperatorAction { action, by }, None) = (&event.kind, &event.unique_id) {
            let value = serde_json::to_vec(&(event.ts_ms, format!("{action} by {by}")))?;
            batch.insert(ks, action_key(event.seq), value);
        }
        if let EventKind::IntegrationDown { .. } | EventKind::IntegrationUp { .. } = &event.kind {
            batch.insert(ks, health_key(event.seq), serde_json::to_vec(event)?);
        }
        let Some(id) = event.unique_id.as_deref() else {
            continue;
        };
        if !touched.contains_key(id) {
            let entry = match load(ks, id)? {
                Some(row) => Touched {
                    row,
                    new: false,
                    counted: true,
                },
                None => Touched {
                    row: OrderRow::new(id, event),
                    new: true,
                    counted: false,
                },
            };
            touched.insert(id, entry);
        }
        if let Some(t) = touched.get_mut(id) {
            if t.counted {
                let old = &mut meta.counts[usize::from(status_byte(t.row.view.status))];
                *old = old.saturating_sub(1);
            }
            t.row.apply(event);
            meta.counts[usize::from(status_byte(t.row.view.status))] += 1;
            t.counted = true;
        }
    }
    for (id, t) in touched {
        let key = t.row.key();
        batch.insert(ks, key, encode_row(&t.row)?);
        if t.new {
            batch.insert(ks, id_key(id), key);
        }
    }
    batch.insert(ks, META, serde_json::to_vec(&meta)?);
    Ok(())
}

/// The row of an order as committed.
fn load(ks: &Keyspace, unique_id: &str) -> Result<Option<OrderRow>> {
    let read = |e| Error::storage("read order index", e);
    let Some(key) = ks.get(id_key(unique_id)).map_err(read)? else {
        return Ok(None);
    };
    let value = ks
        .get(key)
        .map_err(read)?
        .ok_or_else(|| Error::Corrupt(format!("order index: no row for {unique_id:?}")))?;
    decode_row(&value).map(Some)
}

fn read_meta(ks: &Keyspace) -> Result<Option<Meta>> {
    let value = ks
        .get(META)
        .map_err(|e| Error::storage("read order index", e))?;
    value.map(|v| decode_meta(&v)).transpose()
}

fn fresh_meta() -> Meta {
    Meta {
        version: INDEX_VERSION,
        ..Meta::default()
    }
}

/// Brings the index up to the log, whose last event is `log_last_seq`:
/// nothing to do when it is in step; the missing events folded in when it
/// is behind (an older build appended); rebuilt from the whole log when it
/// is missing, of another version or ahead of the log. Says so in the log.
pub fn ensure<I>(
    db: &Database,
    ks: &Keyspace,
    log_last_seq: u64,
    events_from: impl FnOnce(u64) -> I,
) -> Result<()>
where
    I: Iterator<Item = Result<Event>>,
{
    let meta = read_meta(ks).ok().flatten();
    let from = match &meta {
        Some(m) if m.version == INDEX_VERSION && m.last_seq == log_last_seq => return Ok(()),
        None if log_last_seq == 0 => return Ok(()),
        Some(m) if m.version == INDEX_VERSION && m.last_seq < log_last_seq => {
            tracing::info!(
                behind = log_last_seq - m.last_seq,
                "order index behind the log: folding the missing events in"
            );
            m.last_seq + 1
        }
        other => {
            let why = match other {
                None => "missing".to_string(),
                Some(m) if m.version != INDEX_VERSION => format!("of version {}", m.version),
                Some(m) => format!("ahead of the log (seq {})", m.last_seq),
            };
            tracing::warn!(index = why, "order index {why}: rebuilding it from the log");
            clear(db, ks)?;
            0
        }
    };
    let started = Instant::now();
    let folded = fold_into(db, ks, events_from(from))?;
    tracing::info!(
        events = folded,
        ms = started.elapsed().as_millis() as u64,
        "order index up to date with the log"
    );
    Ok(())
}

/// Folds `events` into the index in batches; how many.
fn fold_into(
    db: &Database,
    ks: &Keyspace,
    events: impl Iterator<Item = Result<Event>>,
) -> Result<u64> {
    let mut chunk = Vec::with_capacity(REBUILD_CHUNK);
    let mut folded = 0;
    let mut events = events.peekable();
    while events.peek().is_some() {
        chunk.clear();
        for event in events.by_ref().take(REBUILD_CHUNK) {
            chunk.push(event?);
        }
        let mut batch = db.batch();
        stage(ks, &mut batch, &chunk)?;
        batch
            .commit()
            .map_err(|e| Error::storage("rebuild order index", e))?;
        folded += chunk.len() as u64;
    }
    db.persist(PersistMode::SyncData)
        .map_err(|e| Error::storage("rebuild order index", e))?;
    Ok(folded)
}

/// Removes every key of the index.
fn clear(db: &Database, ks: &Keyspace) -> Result<()> {
    let err = |e| Error::storage("clear order index", e);
    loop {
        let keys: Vec<fjall::Slice> = ks
            .iter()
            .take(REBUILD_CHUNK)
            .map(|guard| guard.key().map_err(err))
            .collect::<Result<_>>()?;
        if keys.is_empty() {
            return Ok(());
        }
        let mut batch = db.batch();
        for key in keys {
            batch.remove(ks, key);
        }
        batch.commit().map_err(err)?;
    }
}
