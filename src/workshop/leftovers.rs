//! A workshop killed with SIGKILL cannot stop its chromedriver. Its process
//! group id is recorded in the workshop's folder, so the next start of the
//! workshop finds and kills what the last one left behind. (On Windows the
//! job object dies with the process and takes chromedriver along; the
//! record is a second line of defence there.)

use std::path::{Path, PathBuf};

use crate::platform;

const PIDFILE: &str = "chromedriver.pid";

fn pidfile(workshop_dir: &Path) -> PathBuf {
    workshop_dir.join(PIDFILE)
}

/// Records the chromedriver process group now in use (`None`: none).
pub fn record(workshop_dir: &Path, pid: Option<u32>) {
    let path = pidfile(workshop_dir);
    let result = match pid {
        Some(pid) => std::fs::write(&path, pid.to_string()),
        None => std::fs::remove_file(&path).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        }),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, path = %path.display(), "cannot record the chromedriver pid");
    }
}

/// Kills the chromedriver group a previous run left, if it still runs.
pub fn reap(workshop_dir: &Path) {
    let path = pidfile(workshop_dir);
    let Some(pid) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|pid| *pid > 1)
    else {
        return;
    };
    let command = platform::process_command(pid).unwrap_or_default();
    if command.contains("chromedriver") {
        tracing::warn!(pid, "killing the chromedriver a previous run left behind");
        platform::kill_recorded_group(pid);
    }
    record(workshop_dir, None);
}
