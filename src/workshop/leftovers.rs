//! A workshop killed with SIGKILL cannot stop its chromedriver. Its process
//! group id is recorded in the workshop's folder, so the next start of the
//! workshop finds and kills what the last one left behind. (On Windows the
//! job object dies with the process and takes chromedriver along; the
//! record is a second line of defence there.)
//!
//! Process ids are reused, so the record also holds the process's start
//! time (`PID START`): a process with that id but another start time is
//! someone else's and is left alone. A record from an older version (the
//! id alone) falls back to the command line naming chromedriver.

use std::path::{Path, PathBuf};

use crate::platform;

const PIDFILE: &str = "chromedriver.pid";

fn pidfile(workshop_dir: &Path) -> PathBuf {
    workshop_dir.join(PIDFILE)
}

/// What the pid file says: the process id and, when recorded, its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Recorded {
    pid: u32,
    started: Option<u64>,
}

impl Recorded {
    fn parse(text: &str) -> Option<Recorded> {
        let mut fields = text.split_whitespace();
        let pid = fields.next()?.parse::<u32>().ok().filter(|pid| *pid > 1)?;
        let started = match fields.next() {
            None => None,
            Some(time) => Some(time.parse::<u64>().ok()?),
        };
        Some(Recorded { pid, started })
    }

    fn line(&self) -> String {
        match self.started {
            Some(time) => format!("{} {time}", self.pid),
            None => self.pid.to_string(),
        }
    }

    /// Whether the process now running under this id is the recorded one:
    /// the same start time, or (an old record without it) a command line
    /// that names chromedriver.
    fn still_runs(&self) -> bool {
        match self.started {
            Some(time) => platform::process_start_time(self.pid) == Some(time),
            None => platform::process_command(self.pid)
                .unwrap_or_default()
                .contains("chromedriver"),
        }
    }
}

/// Records the chromedriver process group now in use (`None`: none), with
/// the process's start time.
pub fn record(workshop_dir: &Path, pid: Option<u32>) {
    let path = pidfile(workshop_dir);
    let result = match pid {
        Some(pid) => {
            let started = platform::process_start_time(pid);
            std::fs::write(&path, Recorded { pid, started }.line())
        }
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
    let Some(recorded) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| Recorded::parse(&text))
    else {
        return;
    };
    if recorded.still_runs() {
        tracing::warn!(
            pid = recorded.pid,
            "killing the chromedriver a previous run left behind"
        );
        platform::kill_recorded_group(recorded.pid);
    } else if platform::is_alive(recorded.pid) {
        tracing::info!(
            pid = recorded.pid,
            "the recorded chromedriver id now belongs to another process: left alone"
        );
    }
    record(workshop_dir, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_old_and_new_parse() {
        assert_eq!(
            Recorded::parse("4242 987654\n"),
            Some(Recorded {
                pid: 4242,
                started: Some(987_654)
            })
        );
        assert_eq!(
            Recorded::parse("4242"),
            Some(Recorded {
                pid: 4242,
                started: None
            })
        );
        for bad in ["", "1", "x", "4242 soon"] {
            assert_eq!(Recorded::parse(bad), None, "{bad:?}");
        }
        let r = Recorded {
            pid: 7,
            started: Some(9),
        };
        assert_eq!(Recorded::parse(&r.line()), Some(r));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_reused_pid_with_another_start_time_is_not_killed() {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        // A process group of its own, as chromedriver's: reap would kill it.
        let mut command = Command::new("sleep");
        command.arg("30");
        let (mut child, mut group) = platform::spawn_in_own_group(&mut command).unwrap();
        let pid = child.id();
        let started = platform::process_start_time(pid).unwrap();

        // The record names this pid but another start time: left alone.
        let stale = Recorded {
            pid,
            started: Some(started + 1),
        };
        std::fs::write(pidfile(dir.path()), stale.line()).unwrap();
        reap(dir.path());
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "another process was killed"
        );
        assert!(!pidfile(dir.path()).exists(), "the record is cleared");

        // The same start time: killed.
        record(dir.path(), Some(pid));
        assert_eq!(
            Recorded::parse(&std::fs::read_to_string(pidfile(dir.path())).unwrap()),
            Some(Recorded {
                pid,
                started: Some(started)
            })
        );
        reap(dir.path());
        let status = child.wait().unwrap();
        assert!(!status.success(), "the recorded process was killed");
        group.kill();
    }
}
