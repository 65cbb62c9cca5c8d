//! Evidence of a failed attempt: the screenshot and the page source, saved
//! for support.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thirtyfour::prelude::*;

use super::error::describe;

/// How long each piece of evidence may take.
const EVIDENCE_TIMEOUT: Duration = Duration::from_secs(5);

/// Screenshot and page source saved for support.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// `{stem}.png`, if it could be saved.
    pub screenshot: Option<PathBuf>,
    /// `{stem}.html`, if it could be saved.
    pub page_source: Option<PathBuf>,
}

/// Saves `{stem}.png` and `{stem}.html` of the current page into `dir`
/// (created if needed), each within a deadline. Never fails: what could not
/// be saved is `None` and logged.
pub async fn capture_evidence(driver: &WebDriver, dir: &Path, stem: &str) -> Evidence {
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot create evidence dir");
        return Evidence::default();
    }
    if let Err(e) = make_private_dir(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot make the evidence dir private");
    }
    let stem = safe_stem(stem);
    let png = dir.join(format!("{stem}.png"));
    let html = dir.join(format!("{stem}.html"));
    Evidence {
        screenshot: save(png, driver.screenshot_as_png()).await,
        page_source: save(html, async {
            driver.source().await.map(String::into_bytes)
        })
        .await,
    }
}

/// `stem` with anything but `[A-Za-z0-9._-]` replaced, so it stays one file.
fn safe_stem(stem: &str) -> String {
    let safe: String = stem
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    safe.trim_start_matches('.').to_string()
}

/// Fetches bytes within [`EVIDENCE_TIMEOUT`] and writes them to `path`.
async fn save<F>(path: PathBuf, fetch: F) -> Option<PathBuf>
where
    F: Future<Output = WebDriverResult<Vec<u8>>>,
{
    let bytes = match tokio::time::timeout(EVIDENCE_TIMEOUT, fetch).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            tracing::warn!(file = %path.display(), error = %describe(&e), "evidence not captured");
            return None;
        }
        Err(_) => {
            tracing::warn!(file = %path.display(), "evidence capture timed out");
            return None;
        }
    };
    match write_private(&path, &bytes) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "evidence not written");
            None
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
    fn evidence_stems_stay_one_file() {
        assert_eq!(safe_stem("ws1/../u-1 a"), "ws1_.._u-1_a");
        assert_eq!(safe_stem("..x"), "x");
    }
}
