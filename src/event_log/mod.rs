//! The event log: events, the fjall store, the journal that appends with
//! group commit, the commands that decide and the views that fold. Plain data
//! and folds; nothing here knows of browsers, HTTP or actors.

mod attempts;
pub mod commands;
pub mod events;
pub mod journal;
pub mod order_index;
pub mod retry;
pub mod snapshot;
pub mod store;
pub mod views;

use std::path::{Path, PathBuf};

pub use commands::{Command, EvidencePaths, Refusal, RetryPolicy};
pub use events::{Event, EventKind, NewEvent, OrderData, QueueKind};
pub use journal::{Executed, Journal};
pub use views::{
    bad_requests_kept, set_bad_requests_kept, OrderView, Snapshot, SnapshotRef, Status, Views,
    BAD_REQUESTS_KEPT,
};

/// What can go wrong with a workshop's log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Another process owns the workshop's folder.
    #[error("{} is in use by another oilmat-erp process (its lock is held)", .0.display())]
    Locked(PathBuf),
    /// A file system error.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: String,
        /// The OS error.
        message: String,
    },
    /// fjall refused.
    #[error("event log {op} failed: {message}")]
    Storage {
        /// What was being done.
        op: &'static str,
        /// fjall's error.
        message: String,
    },
    /// The log cannot be written right now.
    #[error("event log not writable: {0}")]
    NotWritable(String),
    /// An event could not be encoded.
    #[error("event encoding failed: {0}")]
    Encode(String),
    /// A stored event could not be read.
    #[error("event log corrupt: {0}")]
    Corrupt(String),
    /// The journal thread is gone (shutting down).
    #[error("event log closed")]
    Closed,
}

impl Error {
    /// A file system error at `path`.
    pub fn io(path: &Path, e: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// A storage error during `op`.
    pub fn storage(op: &'static str, e: fjall::Error) -> Error {
        Error::Storage {
            op,
            message: e.to_string(),
        }
    }

    /// True when the caller should answer 503: nothing was acknowledged.
    pub fn is_unavailable(&self) -> bool {
        !matches!(self, Error::Locked(_))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Encode(e.to_string())
    }
}

/// The result type of the event log.
pub type Result<T> = std::result::Result<T, Error>;
