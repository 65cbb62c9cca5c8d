//! Every call that differs between Unix and Windows, behind small functions
//! with one meaning on both; a leaf: it uses nothing else of the crate.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(windows)]
pub mod windows_service;

use std::sync::OnceLock;

use tokio::sync::watch;

/// Asks the running job to stop, as Ctrl-C would: resolves every
/// [`shutdown_signal`] (the Windows service's stop control calls it).
pub fn request_stop() {
    stop_requests().send_replace(true);
}

/// Resolves once [`request_stop`] was called (at once if it already was).
async fn stop_requested() {
    let mut requests = stop_requests().subscribe();
    // The sender lives in a static, so the channel never closes.
    let _ = requests.wait_for(|stop| *stop).await;
}

fn stop_requests() -> &'static watch::Sender<bool> {
    static STOP: OnceLock<watch::Sender<bool>> = OnceLock::new();
    STOP.get_or_init(|| watch::channel(false).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_file_is_created_once_and_holds_what_was_written() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let mut file = create_private_file(&path).unwrap();
        file.write_all(b"secret").unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        let again = create_private_file(&path).unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
    }

    #[cfg(unix)]
    #[test]
    fn a_private_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        drop(create_private_file(&path).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_group_child_and_its_own_children_die_with_the_group() {
        use std::io::BufRead;
        let mut command = std::process::Command::new("sh");
        command
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped());
        let (mut child, mut group) = spawn_in_own_group(&mut command).unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        assert!(is_alive(grandchild));
        group.kill();
        child.wait().unwrap();
        // Dead, or a zombie waiting for whoever adopted it (no command line).
        let gone = || {
            !is_alive(grandchild)
                || process_command(grandchild)
                    .unwrap_or_default()
                    .trim()
                    .is_empty()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !gone() {
            assert!(
                std::time::Instant::now() < deadline,
                "the grandchild outlived its group"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[cfg(windows)]
    #[test]
    fn a_group_child_dies_with_the_group() {
        let mut command = std::process::Command::new("ping");
        command.args(["-n", "30", "127.0.0.1"]);
        let (mut child, mut group) = spawn_in_own_group(&mut command).unwrap();
        let pid = child.id();
        assert!(is_alive(pid));
        group.kill();
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }

    #[test]
    fn a_stop_request_resolves_the_shutdown_signal() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            request_stop();
            tokio::time::timeout(std::time::Duration::from_secs(5), shutdown_signal())
                .await
                .expect("the stop request resolves the shutdown");
        });
    }
}
