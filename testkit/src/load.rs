//! An HTTP/1.1 keep-alive load generator on a thread of its own: latency
//! percentiles of a timed run ([`post_load`]), or the status of each of N
//! requests ([`post_many`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

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
