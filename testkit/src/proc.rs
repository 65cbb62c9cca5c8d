//! The real binary as a child process, and the process checks around it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The `oilmat-erp` binary cargo built next to this test or bench binary
/// (`target/PROFILE/deps/NAME-HASH` runs; the binary is `target/PROFILE/oilmat-erp`).
pub fn bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current test binary");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/PROFILE/deps");
    let bin = profile.join("oilmat-erp");
    assert!(
        bin.exists(),
        "{} missing: run through `cargo test` or `cargo bench` (they build it)",
        bin.display()
    );
    bin
}

/// The cargo target directory this test or bench runs from.
pub fn target_dir() -> PathBuf {
    let bin = bin();
    bin.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// Where the processes' stderr logs go: `target/test-logs`.
pub fn log_dir() -> PathBuf {
    let logs = target_dir().join("test-logs");
    std::fs::create_dir_all(&logs).expect("create the log dir");
    logs
}

/// A running process (the real binary or another); its stderr goes to a
/// file. SIGTERM, then SIGKILL on drop, and its recorded chromedriver group
/// killed too.
pub struct Proc {
    pub child: Child,
    /// `http://127.0.0.1:PORT` from its `listening on` line.
    pub url: String,
    pub stderr_log: PathBuf,
    /// A workshop's `chromedriver.pid`, killed with the process on drop.
    pub pidfile: Option<PathBuf>,
}

impl Proc {
    /// Starts `program ARGS` with `env` and waits for its `listening on URL` line.
    pub fn start(program: &Path, args: &[&str], env: &[(&str, &str)], log_name: &str) -> Proc {
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let stderr_log = log_dir().join(format!("{log_name}-{}-{serial}.log", std::process::id()));
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start process");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let url = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(at) = line.find("listening on ") {
                        break line[at + 13..].trim().replace("0.0.0.0", "127.0.0.1");
                    }
                }
                Err(_) => panic!(
                    "{} {args:?} did not start: {}",
                    program.display(),
                    std::fs::read_to_string(&stderr_log).unwrap_or_default()
                ),
            }
        };
        Proc {
            child,
            url,
            stderr_log,
            pidfile: None,
        }
    }

    /// Starts the real binary: `oilmat-erp ARGS`.
    pub fn oilmat(args: &[&str], env: &[(&str, &str)], log_name: &str) -> Proc {
        Proc::start(&bin(), args, env, log_name)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.url
            .trim_start_matches("http://")
            .parse()
            .expect("address")
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// kill -9, as a crash would.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the process exits; its exit status.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM (a clean stop closes the browsers it started) and wait up to
    /// `within`; SIGKILL after.
    pub fn stop(&mut self, within: Duration) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own, not yet reaped child touches no memory.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        if self.wait_exit(within).is_none() {
            self.kill_hard();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
        if let Some(pidfile) = &self.pidfile {
            kill_recorded_chromedriver(pidfile);
        }
    }
}

/// Kills the chromedriver group a killed workshop left behind (its pid file).
pub fn kill_recorded_chromedriver(pidfile: &Path) {
    if let Some(pid) = std::fs::read_to_string(pidfile)
        .ok()
        // `PID START`: the group's id, then its leader's start time.
        .and_then(|s| s.split_whitespace().next()?.parse::<i32>().ok())
    {
        // SAFETY: only sends a signal.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// A blocking HTTP client for setup and checks (no proxy, 60 s timeout).
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .expect("client")
}

/// Polls `cond` until it holds; panics after `within`.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// SIGKILLs a process group, as a crash of chromedriver and its browser.
pub fn kill_group(pgid: u32) {
    let pgid = libc::pid_t::try_from(pgid).expect("pid");
    // SAFETY: only sends a signal.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGKILL) }, 0);
}

/// Waits until the process has exited (a zombie or gone), as SIGKILL takes
/// effect asynchronously.
pub fn wait_until_dead(pid: u32) {
    wait_until(
        &format!("process {pid} dies"),
        Duration::from_secs(3),
        || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.trim_start().chars().next());
            matches!(state, None | Some('Z') | Some('X'))
        },
    );
}

/// Whether a process with this pid exists (zombies included).
pub fn process_exists(pid: u32) -> bool {
    let pid = libc::pid_t::try_from(pid).expect("pid");
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Fails if, after a short grace for the kernel to finish SIGKILLed
/// processes, a process still has `dir` on its command line (a Chromium that
/// outlived its chromedriver).
pub fn assert_no_process_mentions(dir: &Path) {
    let mut survivors = Vec::new();
    let gone = |survivors: &mut Vec<String>| {
        *survivors = processes_mentioning(dir);
        survivors.is_empty()
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    while !gone(&mut survivors) {
        assert!(
            Instant::now() < deadline,
            "processes survived: {survivors:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then_some(cmdline)
        })
        .collect()
}
