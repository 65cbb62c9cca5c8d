//! The on-disk log of one workshop: a fjall database under
//! `workshop_logs/WORKSHOP/log/`, events keyed by their big-endian sequence
//! number, encrypted credentials in a keyspace of their own, and the order
//! index (see [`super::order_index`]) written in the same batches. Appends
//! are atomic batches persisted with `fsync` before they return.

use std::fs::File;
use std::path::{Path, PathBuf};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::events::Event;
use super::order_index::{self, Filter, OrderPage, OrderRow};
use super::{Error, Result};

const EVENTS: &str = "events";
const SECRETS: &str = "secrets";
const LOCK_FILE: &str = "workshop.lock";
/// Memtable sizes (fjall's default is 64 MiB per keyspace): what a log
/// holds in memory before it is written out as a table, and what a start
/// replays from fjall's journal. Set when a keyspace is created.
const EVENTS_MEMTABLE: u64 = 8 * 1024 * 1024;
const SECRETS_MEMTABLE: u64 = 2 * 1024 * 1024;
const INDEX_MEMTABLE: u64 = 4 * 1024 * 1024;

/// The exclusive claim of one process on a workshop's folder.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Takes the folder's lock, or says which folder another process holds.
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(FolderLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// Where the lock file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// An open log. Not thread-safe by design: one writer thread owns it.
/// A secret to store beside the log (`Some`) or to delete (`None`), by key.
pub type SecretChange = (String, Option<Vec<u8>>);

#[derive(Clone)]
pub struct Store {
    db: Database,
    events: Keyspace,
    secrets: Keyspace,
    index: Keyspace,
    dir: PathBuf,
}

impl Store {
    /// Opens (or creates) the log in `dir` (the workshop's `log/` folder).
    pub fn open(dir: &Path) -> Result<Store> {
        let db = Database::builder(dir)
            .worker_threads(1)
            .cache_size(2 * 1024 * 1024)
            .open()
            .map_err(|e| Error::storage("open", e))?;
        let events = db
            .keyspace(EVENTS, || {
                KeyspaceCreateOptions::default().max_memtable_size(EVENTS_MEMTABLE)
            })
            .map_err(|e| Error::storage("open events", e))?;
        let secrets = db
            .keyspace(SECRETS, || {
                KeyspaceCreateOptions::default().max_memtable_size(SECRETS_MEMTABLE)
            })
            .map_err(|e| Error::storage("open secrets", e))?;
        let index = db
            .keyspace(order_index::KEYSPACE, || {
                KeyspaceCreateOptions::default().max_memtable_size(INDEX_MEMTABLE)
            })
            .map_err(|e| Error::storage("open order index", e))?;
        let store = Store {
            db,
            events,
            secrets,
            index,
            dir: dir.to_path_buf(),
        };
        let last_seq = store.last_seq()?;
        order_index::ensure(&store.db, &store.index, last_seq, |from| {
            store.events_from(from)
        })?;
        Ok(store)
    }

    /// The folder the log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends events (and the secrets they reference) atomically and durably.
    pub fn append(&self, events: &[Event], secrets: &[(String, Vec<u8>)]) -> Result<()> {
        let changes: Vec<SecretChange> = secrets
            .iter()
            .map(|(key, blob)| (key.clone(), Some(blob.clone())))
            .collect();
        self.append_changes(events, &changes)
    }

    /// Appends events, storing (`Some`) or deleting (`None`) the secrets
    /// named, atomically and durably.
    pub fn append_changes(&self, events: &[Event], secrets: &[SecretChange]) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncData));
        for event in events {
            let value = serde_json::to_vec(event)?;
            batch.insert(&self.events, event.seq.to_be_bytes(), value);
        }
        for (key, blob) in secrets {
            match blob {
                Some(blob) => batch.insert(&self.secrets, key.as_bytes(), blob.as_slice()),
                None => batch.remove(&self.secrets, key.as_bytes()),
            }
        }
        order_index::stage(&self.index, &mut batch, events)?;
        batch.commit().map_err(|e| Error::storage("append", e))
    }

    /// The sequence number of the last event, 0 for an empty log.
    pub fn last_seq(&self) -> Result<u64> {
        match self.events.last_key_value() {
            None => Ok(0),
            Some(guard) => {
                let key = guard.key().map_err(|e| Error::storage("read", e))?;
                decode_seq(&key)
            }
        }
    }

    /// Every event from `from_seq` on, oldest first.
    pub fn events_from(&self, from_seq: u64) -> impl Iterator<Item = Result<Event>> + '_ {
        self.raw_events_from(from_seq)
            .map(|value| value.and_then(|v| decode_event(&v)))
    }

    /// The stored bytes of every event from `from_seq` on, oldest first.
    pub fn raw_events_from(
        &self,
        from_seq: u64,
    ) -> impl Iterator<Item = Result<fjall::Slice>> + '_ {
        self.events.range(from_seq.to_be_bytes()..).map(|guard| {
            let (_, value) = guard.into_inner().map_err(|e| Error::storage("read", e))?;
            Ok(value)
        })
    }

    /// The event with sequence number `seq`, if the log has it.
    pub fn event_at(&self, seq: u64) -> Result<Option<Event>> {
        let value = self
            .events
            .get(seq.to_be_bytes())
            .map_err(|e| Error::storage("read", e))?;
        value.map(|v| decode_event(&v)).transpose()
    }

    /// A secret stored beside the log.
    pub fn secret(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.secrets
            .get(key.as_bytes())
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| Error::storage("read secret", e))
    }

    /// One page of the order index (newest first), read from a snapshot.
    pub fn order_page(&self, filter: &Filter, page: usize, per_page: usize) -> Result<OrderPage> {
        order_index::order_page(&self.db, &self.index, filter, page, per_page)
    }

    /// The order index's row of one order.
    pub fn order_row(&self, unique_id: &str) -> Result<Option<OrderRow>> {
        order_index::order_row(&self.db, &self.index, unique_id)
    }

    /// The workshop's last `limit` operator actions, newest first.
    pub fn operator_actions(&self, limit: usize) -> Result<Vec<(u64, String)>> {
        order_index::operator_actions(&self.db, &self.index, limit)
    }

    /// The workshop's last `limit` health events, oldest first.
    pub fn health_events(&self, limit: usize) -> Result<Vec<Event>> {
        order_index::health_events(&self.db, &self.index, limit)
    }

    /// The fjall database (tests reach behind the store with it).
    #[cfg(test)]
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Bytes the log takes on disk.
    pub fn disk_space(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
    }
}

fn decode_seq(key: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| Error::Corrupt(format!("event key of {} bytes", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Reads one stored event, whatever schema version wrote it.
pub fn decode_event(value: &[u8]) -> Result<Event> {
    let event: Event = serde_json::from_slice(value)
        .map_err(|e| Error::Corrupt(format!("unreadable event: {e}")))?;
    if event.v > super::events::SCHEMA_VERSION {
        return Err(Error::Corrupt(format!(
            "event {} has schema version {}, newer than this build ({})",
            event.seq,
            event.v,
            super::events::SCHEMA_VERSION
        )));
    }
    Ok(event)
}
