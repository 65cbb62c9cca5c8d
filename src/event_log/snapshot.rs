//! Snapshots of the views beside the log (`workshop_logs/W/views.snapshot`),
//! so that a start folds only the events written after the snapshot. A
//! snapshot is a shortcut, never the truth: one that is missing, unreadable,
//! of another format, ahead of the log, or whose last event is not the log's
//! event of that number is ignored, and the whole log is folded.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::events::Event;
use super::store::Store;
use super::views::{Snapshot, SnapshotRef, Views, SNAPSHOT_FORMAT};
use super::{Error, Result};

/// The snapshot's file name in the workshop's folder.
pub const FILE: &str = "views.snapshot";

/// Where the snapshot of the workshop in `workshop_dir` is.
pub fn path(workshop_dir: &Path) -> PathBuf {
    workshop_dir.join(FILE)
}

/// What the file holds: the views and the event they end with.
#[derive(Deserialize)]
struct Stored {
    /// The last event folded in (checked against the log when loading).
    last_event: Option<Event>,
    views: Snapshot,
}

/// Writes the snapshot of `views` (whose last event is `last_event`)
/// atomically: a temporary file, fsync'd, renamed over the old one.
pub fn save(workshop_dir: &Path, views: &Views, last_event: Option<&Event>) -> Result<()> {
    let target = path(workshop_dir);
    let tmp = target.with_extension("snapshot.tmp");
    let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    serde_json::to_writer(
        &mut out,
        &StoredRef {
            last_event,
            views: views.snapshot(),
        },
    )?;
    out.flush().map_err(|e| Error::io(&tmp, e))?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(&tmp, e.into_error()))?;
    file.sync_data().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))
}

/// [`Stored`] as written, without copying the views.
#[derive(Serialize)]
struct StoredRef<'a> {
    last_event: Option<&'a Event>,
    views: SnapshotRef<'a>,
}

/// The views of the snapshot, if there is one that fits the log in `store`.
pub fn load(workshop_dir: &Path, store: &Store) -> Option<Views> {
    let target = path(workshop_dir);
    let file = File::open(&target).ok()?;
    let stored: Stored = match serde_json::from_reader(BufReader::with_capacity(1 << 20, file)) {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(file = %target.display(), error = %e, "views snapshot unreadable; folding the whole log");
            return None;
        }
    };
    let fits = stored.views.format == SNAPSHOT_FORMAT
        && match &stored.last_event {
            None => stored.views.last_seq == 0,
            Some(event) => {
                event.seq == stored.views.last_seq
                    && store.event_at(event.seq).ok().flatten().as_ref() == Some(event)
            }
        };
    if !fits {
        tracing::warn!(file = %target.display(), "views snapshot does not fit the log; folding the whole log");
        return None;
    }
    if !stored.views.keeps_enough_bad_requests() {
        tracing::info!(file = %target.display(), "views snapshot kept fewer bad requests than now asked for; folding the whole log");
        return None;
    }
    Some(Views::restore(stored.views))
}
