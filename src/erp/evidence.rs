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
    if let Err(e) = crate::workshop::evidence::make_private_dir(dir) {
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
    match crate::workshop::evidence::write_private(&path, &bytes) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "evidence not written");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_stems_stay_one_file() {
        assert_eq!(safe_stem("ws1/../u-1 a"), "ws1_.._u-1_a");
        assert_eq!(safe_stem("..x"), "x");
    }
}
