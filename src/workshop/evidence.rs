//! Evidence of failed attempts (screenshots and page sources) is kept for
//! support, then pruned by age and by count so it cannot fill the disk.

use std::path::Path;
use std::time::{Duration, SystemTime};

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

/// Makes an evidence folder its owner's only (0700): a page source may show
/// what was on the ERP's page.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes an evidence file readable by its owner only (0600).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // An older file of the same name keeps its mode through open: set it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)
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
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    let too_many = files.len().saturating_sub(retention.max_files);
    let mut removed = 0;
    for (i, (modified, path)) in files.iter().enumerate() {
        let too_old = now.duration_since(*modified).unwrap_or_default() > retention.max_age;
        if (i < too_many || too_old) && std::fs::remove_file(path).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %dir.display(), "old evidence pruned");
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn evidence_is_its_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("evidence");
        std::fs::create_dir(&folder).unwrap();
        make_private_dir(&folder).unwrap();
        let file = folder.join("a.html");
        std::fs::write(&file, b"old").unwrap();
        write_private(&file, b"<html/>").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"<html/>");
    }

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
    }
}
