//! Unix: process groups and signals (libc), file modes.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

/// The group a child was started in (its process group, id = its pid).
#[derive(Debug)]
pub struct ProcessGroup {
    pgid: libc::pid_t,
}

impl ProcessGroup {
    /// Kills every process of the group at once (SIGKILL).
    pub fn kill(&mut self) {
        kill_group(self.pgid);
    }
}

/// Starts `command` as the leader of a process group of its own, so that
/// [`ProcessGroup::kill`] ends it and every process it started.
pub fn spawn_in_own_group(command: &mut Command) -> io::Result<(Child, ProcessGroup)> {
    let child = command.process_group(0).spawn()?;
    let pgid = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::other("process id out of range"))?;
    Ok((child, ProcessGroup { pgid }))
}

/// Kills the process group a previous run recorded (its leader's pid).
pub fn kill_recorded_group(pid: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(pid) {
        if pgid > 1 {
            kill_group(pgid);
        }
    }
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: killpg(2) only signals that process group; it touches no
    // memory of ours.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// Whether a process with this id runs (a zombie counts until reaped).
pub fn is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let sent = unsafe { libc::kill(pid, 0) };
    sent == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The command line (Linux) or `None` when the process is gone or unknown.
pub fn process_command(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&cmdline).replace('\0', " "))
}

/// When the process started, as an opaque number that differs between two
/// processes that had the same id (Linux: field 22 `starttime` of
/// `/proc/<pid>/stat`, in clock ticks since boot); `None` when the process
/// is gone or the OS does not say.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    start_time_of_stat(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and `)`: the fields after it start after
/// the last `)`, with field 3 (the state) first.
fn start_time_of_stat(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// Resolves on Ctrl-C, SIGTERM or [`super::request_stop`]: the shutdown
/// `main` passes.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = super::stop_requested() => {}
    }
}

/// Whether Chromium must run without its sandbox: only as root, where it
/// refuses to start with one.
pub fn chromium_needs_no_sandbox() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Lets file-size limits surface as write errors instead of killing the process.
pub fn ignore_sigxfsz() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Creates `path` (which must not exist) readable and writable by the
/// owner only: mode 0600 from the start.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// A connection's socket, as the OS names it.
pub type RawSocket = std::os::fd::RawFd;

/// The OS's name for `socket`.
pub fn raw_socket(socket: &impl std::os::fd::AsRawFd) -> RawSocket {
    socket.as_raw_fd()
}

/// Ends both directions of a connection's traffic; its owner still closes it.
///
/// # Safety
/// `socket` must be an open socket for the whole call.
pub unsafe fn shutdown_socket(socket: RawSocket) {
    // SAFETY: the caller keeps `socket` open; shutdown(2) touches no memory.
    unsafe {
        libc::shutdown(socket, libc::SHUT_RDWR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_even_with_odd_command_names() {
        let stat = "4242 (chrome (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    5 6 0 0 20 0 3 0 987654 1000000 200 18446744073709551615";
        assert_eq!(start_time_of_stat(stat), Some(987_654));
        assert_eq!(start_time_of_stat("12 (x) S 1"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_running_process_has_a_start_time_that_stays_put() {
        let me = std::process::id();
        let first = process_start_time(me).expect("our own start time");
        assert_eq!(process_start_time(me), Some(first));
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let theirs = process_start_time(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(theirs.is_some_and(|t| t >= first));
        assert_eq!(process_start_time(child.id()), None, "gone");
    }
}
