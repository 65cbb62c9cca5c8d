//! Evidence of failed attempts (screenshots and page sources) is kept for
//! support, then pruned by age and by count so it cannot fill the disk.
//! What is pruned, and when, is recorded in the folder's hidden
//! [`PRUNED_RECORD`] so the console can say "evidence pruned on <date>".

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The record of pruned files in the evidence folder: one line
/// `<ms since the epoch>\t<file name>` per file removed; hidden, so never
/// pruned or served itself.
pub const PRUNED_RECORD: &str = ".pruned";
/// The record is cut to its newer half past this size.
const RECORD_MAX_BYTES: usize = 256 * 1024;

/// How much evidence to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Files older than this are deleted.
    pub max_age: Duration,
    /// At most this many files are kept (the newest).
    pub max_files: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_files: 2000,
        }
    }
}

/// Deletes what `retention` no longer keeps; returns how many files went.
pub fn prune(dir: &Path, retention: Retention) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut files: Vec<(SystemTime, std::path::PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    let too_many = files.len().saturating_sub(retention.max_files);
    let mut removed = Vec::new();
    for (i, (modified, path)) in files.iter().enumerate() {
        let too_old = now.duration_since(*modified).unwrap_or_default() > retention.max_age;
        if (i < too_many || too_old) && std::fs::remove_file(path).is_ok() {
            if let Some(name) = path.file_name() {
                removed.push(name.to_string_lossy().into_owned());
            }
        }
    }
    if !removed.is_empty() {
        tracing::info!(removed = removed.len(), dir = %dir.display(), "old evidence pruned");
        let at_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if let Err(e) = record_pruned(dir, at_ms, &removed) {
            tracing::warn!(dir = %dir.display(), error = %e, "pruned evidence not recorded");
        }
    }
    removed.len()
}

/// Appends the pruned names to the record, cutting it to its newer half when it grew too big.
fn record_pruned(dir: &Path, at_ms: u64, names: &[String]) -> std::io::Result<()> {
    let path = dir.join(PRUNED_RECORD);
    let lines: String = names.iter().map(|n| format!("{at_ms}\t{n}\n")).collect();
    let size = std::fs::metadata(&path).map_or(0, |m| m.len() as usize);
    if size + lines.len() > RECORD_MAX_BYTES {
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let cut = old.len() / 2;
        let keep = old.as_bytes()[cut..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or("", |at| &old[cut + at + 1..]);
        let temp = dir.join(".pruned.new");
        std::fs::write(&temp, format!("{keep}{lines}"))?;
        return std::fs::rename(&temp, &path);
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?
        .write_all(lines.as_bytes())
}

/// When the evidence file `name` was pruned (ms since the epoch), if the
/// record still says.
pub fn pruned_at(dir: &Path, name: &str) -> Option<u64> {
    let record = std::fs::read_to_string(dir.join(PRUNED_RECORD)).ok()?;
    record.lines().rev().find_map(|line| {
        let (at, file) = line.split_once('\t')?;
        (file == name).then(|| at.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_files_up_to_the_count() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            let path = dir.path().join(format!("o{i}-attempt1.png"));
            std::fs::write(&path, b"x").unwrap();
            let t = SystemTime::now() - Duration::from_secs(100 - i);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let removed = prune(
            dir.path(),
            Retention {
                max_age: Duration::from_secs(3600),
                max_files: 3,
            },
        );
        assert_eq!(removed, 2);
        assert!(!dir.path().join("o0-attempt1.png").exists());
        assert!(dir.path().join("o4-attempt1.png").exists());
        let removed = prune(
            dir.path(),
            Retention {
                max_age: Duration::from_millis(97_500),
                max_files: 10,
            },
        );
        assert_eq!(removed, 1, "o2 is 98 s old");
        assert!(pruned_at(dir.path(), "o0-attempt1.png").is_some());
        assert!(pruned_at(dir.path(), "o2-attempt1.png").is_some());
        assert_eq!(pruned_at(dir.path(), "o4-attempt1.png"), None);
        // The record itself is never pruned.
        let removed = prune(
            dir.path(),
            Retention {
                max_age: Duration::from_secs(3600),
                max_files: 0,
            },
        );
        assert_eq!(removed, 2);
        assert!(dir.path().join(PRUNED_RECORD).is_file());
        assert!(pruned_at(dir.path(), "o4-attempt1.png").is_some());
    }

    #[test]
    fn the_record_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..20_000).map(|i| format!("o{i}-attempt1.png")).collect();
        for chunk in names.chunks(500) {
            record_pruned(dir.path(), 1, chunk).unwrap();
        }
        let size = std::fs::metadata(dir.path().join(PRUNED_RECORD))
            .unwrap()
            .len();
        assert!(size <= RECORD_MAX_BYTES as u64, "{size}");
        assert_eq!(pruned_at(dir.path(), "o19999-attempt1.png"), Some(1));
        assert_eq!(pruned_at(dir.path(), "o0-attempt1.png"), None);
    }
}
