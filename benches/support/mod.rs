//! What the benchmarks share: starting the real binary (a workshop, a
//! sandbox ERP, a host) and reading its address, an HTTP/1.1 keep-alive load
//! generator on its own thread, latency percentiles, resident memory from
//! /proc, and the machine's description. Never a fixed sleep: every wait
//! polls a condition with a deadline.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

/// The real binary, built by `cargo bench` with the same profile.
pub const BIN: &str = env!("CARGO_BIN_EXE_oilmat-erp");
/// The ERP login the sandbox is seeded with.
pub const USER: &str = "ilx";
/// Its password.
pub const PASSWORD: &str = "S3cret-pw-4711";

/// `--name value` from the command line (cargo bench passes `--bench` too).
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Whether `--name` is on the command line.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// `--name N` as a number, else `default`.
pub fn num(name: &str, default: u64) -> u64 {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One line about the machine the figures come from.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores ({cpu}), load average {} at start",
        load.join(" ")
    )
}

/// A directory for benchmark data on the same disk as the project (not tmpfs).
pub fn data_dir(what: &str) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&root).expect("create target/bench-data");
    tempfile::Builder::new()
        .prefix(&format!("{what}-"))
        .tempdir_in(root)
        .expect("temp dir")
}

/// A process of the real binary (or of this bench); SIGTERM, then SIGKILL on drop.
pub struct Proc {
    pub child: Child,
    pub url: String,
    pub stderr_log: PathBuf,
}

impl Proc {
    /// Starts `program ARGS` and waits for its `listening on URL` line.
    pub fn start(program: &str, args: &[&str], env: &[(&str, &str)], log_name: &str) -> Proc {
        let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let stderr_log = logs.join(format!("{log_name}-{}.log", std::process::id()));
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
                    "{program} {args:?} did not start: {}",
                    std::fs::read_to_string(&stderr_log).unwrap_or_default()
                ),
            }
        };
        Proc {
            child,
            url,
            stderr_log,
        }
    }

    /// Starts the real binary.
    pub fn oilmat(args: &[&str], env: &[(&str, &str)], log_name: &str) -> Proc {
        Proc::start(BIN, args, env, log_name)
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

    /// SIGTERM and wait up to `within`; SIGKILL after.
    pub fn stop(&mut self, within: Duration) {
        // SAFETY: kill(2) on our own child's pid touches no memory.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop(Duration::from_secs(10));
        }
    }
}

/// A blocking HTTP client for setup and checks.
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
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Resident memory of a process, in bytes (VmRSS).
pub fn rss_bytes(pid: u32) -> u64 {
    proc_status_kb(pid, "VmRSS:") * 1024
}

/// Threads of a process.
pub fn threads(pid: u32) -> u64 {
    proc_status_kb(pid, "Threads:")
}

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time a process has used so far (user + system), from /proc.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of proc_pid_stat(5): 11 and 12 after the name.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros((ticks(11) + ticks(12)) * 1_000_000 / hz)
}

/// Megabytes, for printing.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// An order as OilMat sends it.
pub fn order_json(unique_id: &str, case_id: &str, item: &str, amount: &str) -> String {
    serde_json::json!({
        "workshop": "w", "case_id": case_id, "product_nr": item, "product_amount": amount,
        "unique_id": unique_id, "username": USER, "password": PASSWORD,
    })
    .to_string()
}

/// What one load run measured.
#[derive(Debug, Default, Clone)]
pub struct Load {
    /// Answers with status 200 inside the measuring window.
    pub ok: u64,
    /// Other answers and transport errors inside the window.
    pub failed: u64,
    /// The window's length.
    pub secs: f64,
    /// Latency of every 200 in the window, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Every answer, warm-up included.
    pub answers: u64,
}

impl Load {
    /// Adds another run's figures (windows add up).
    pub fn merge(&mut self, other: Load) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.answers += other.answers;
        self.secs += other.secs;
        self.latencies_us.extend(other.latencies_us);
        self.latencies_us.sort_unstable();
    }

    /// 200s per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.secs
    }

    /// The `q` quantile of the latency, in milliseconds.
    pub fn pct_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// Makes the body of request `i` of connection `conn`.
pub type BodyFn = Arc<dyn Fn(usize, u64) -> String + Send + Sync>;

/// POSTs to `path` over `concurrency` keep-alive HTTP/1.1 connections, each
/// sending its next request when the last is answered, from one thread of
/// its own (a current-thread tokio runtime: the generator takes at most one
/// core). Counts what completes in `[warmup, warmup + measure)`.
pub fn post_load(
    addr: SocketAddr,
    path: &'static str,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
    body: BodyFn,
) -> Load {
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let t0 = Instant::now() + warmup;
            let t1 = t0 + measure;
            let tasks: Vec<_> = (0..concurrency)
                .map(|c| tokio::spawn(connection(addr, path, c, body.clone(), t0, t1)))
                .collect();
            let mut total = Load {
                secs: measure.as_secs_f64(),
                ..Load::default()
            };
            for task in tasks {
                let part = task.await.expect("connection task");
                total.ok += part.ok;
                total.failed += part.failed;
                total.answers += part.answers;
                total.latencies_us.extend(part.latencies_us);
            }
            total.latencies_us.sort_unstable();
            total
        })
    });
    thread.join().expect("load thread")
}

async fn connection(
    addr: SocketAddr,
    path: &'static str,
    conn: usize,
    body: BodyFn,
    t0: Instant,
    t1: Instant,
) -> Load {
    let mut load = Load::default();
    let mut i = 0u64;
    'connect: while Instant::now() < t1 {
        let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
            load.failed += 1;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(stream);
        let Ok((mut sender, driver)) = hyper::client::conn::http1::handshake(io).await else {
            load.failed += 1;
            continue;
        };
        tokio::spawn(driver);
        while Instant::now() < t1 {
            let request = hyper::Request::post(path)
                .header(hyper::header::HOST, "bench")
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body(conn, i))))
                .expect("request");
            i += 1;
            let sent = Instant::now();
            let answer = async {
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                Ok::<_, hyper::Error>(status)
            }
            .await;
            let done = Instant::now();
            let counted = done >= t0 && done < t1;
            load.answers += u64::from(answer.is_ok());
            match answer {
                Ok(status) if status == hyper::StatusCode::OK => {
                    if counted {
                        load.ok += 1;
                        let us = done.duration_since(sent).as_micros();
                        load.latencies_us.push(us.min(u32::MAX as u128) as u32);
                    }
                }
                Ok(_) => load.failed += u64::from(counted),
                Err(_) => {
                    load.failed += u64::from(counted);
                    continue 'connect;
                }
            }
        }
    }
    load
}

/// POSTs `total` requests to `path` over `concurrency` keep-alive
/// connections (request `i` made by `body(0, i)`), from one thread of its
/// own; every answer's status code, by request number, and the time taken.
pub fn post_many(
    addr: SocketAddr,
    path: &'static str,
    concurrency: usize,
    total: u64,
    body: BodyFn,
) -> (Vec<u16>, Duration) {
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let started = Instant::now();
            let tasks: Vec<_> = (0..concurrency)
                .map(|_| {
                    let (next, body) = (next.clone(), body.clone());
                    tokio::spawn(async move { post_until(addr, path, &next, total, body).await })
                })
                .collect();
            let mut codes = vec![0u16; total as usize];
            for task in tasks {
                for (i, code) in task.await.expect("connection task") {
                    codes[i as usize] = code;
                }
            }
            (codes, started.elapsed())
        })
    });
    thread.join().expect("post thread")
}

async fn post_until(
    addr: SocketAddr,
    path: &'static str,
    next: &std::sync::atomic::AtomicU64,
    total: u64,
    body: BodyFn,
) -> Vec<(u64, u16)> {
    use std::sync::atomic::Ordering;
    let mut codes = Vec::new();
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, driver) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(driver);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return codes;
        }
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, "bench")
            .body(Full::new(Bytes::from(body(0, i))))
            .expect("request");
        let code = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            response.into_body().collect().await?;
            Ok::<_, hyper::Error>(status)
        }
        .await
        .unwrap_or(0);
        codes.push((i, code));
    }
}

/// A sandbox ERP of the real binary, seeded with the ERP login.
pub struct Sandbox {
    pub proc: Proc,
    pub http: reqwest::blocking::Client,
}

impl Sandbox {
    /// Starts `oilmat-erp sandbox ERP --port 0` and seeds the user.
    pub fn start(erp: &str) -> Sandbox {
        let proc = Proc::oilmat(
            &["sandbox", erp, "--port", "0"],
            &[],
            &format!("sandbox-{erp}"),
        );
        let sandbox = Sandbox {
            proc,
            http: client(),
        };
        sandbox.post(
            "users",
            serde_json::json!({"username": USER, "password": PASSWORD}),
        );
        sandbox
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.proc.url
    }

    /// `POST /_sandbox/WHAT`.
    pub fn post(&self, what: &str, body: serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/_sandbox/{what}", self.url()))
            .json(&body)
            .send()
            .expect("sandbox request");
        assert!(r.status().is_success(), "sandbox {what}: {}", r.status());
    }

    /// Adds an open case.
    pub fn case(&self, case_id: &str) {
        self.post(
            "cases",
            serde_json::json!({"case_id": case_id, "status": "open"}),
        );
    }

    /// Adds an item.
    pub fn item(&self, item_no: &str) {
        self.post(
            "items",
            serde_json::json!({"item_no": item_no, "name": format!("Olie {item_no}")}),
        );
    }

    /// The references of the lines on a case.
    pub fn references(&self, case_id: &str) -> Vec<String> {
        let r = self
            .http
            .get(format!("{}/_sandbox/cases/{case_id}/lines", self.url()))
            .send()
            .expect("sandbox lines");
        let lines: Vec<serde_json::Value> = r.json().expect("lines json");
        lines
            .iter()
            .filter_map(|l| l["reference"].as_str().map(str::to_string))
            .collect()
    }
}

/// A figure next to its limit: `"12,345/s (limit 20,000/s: 0.62x)"`.
pub fn versus(figure: f64, limit: f64) -> String {
    format!("{:.2}x", figure / limit)
}
