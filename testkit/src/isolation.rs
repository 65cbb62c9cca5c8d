//! Two workshops under one host, one of them in trouble: its ERP hangs, its
//! browser keeps being killed, and it gets a flood of orders. Shared by the
//! isolation test (what a user checks) and bench (how much slower the quiet
//! one gets).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::host::{post_order, wait_completed, HostUnderTest};
use crate::proc::{free_port, kill_recorded_chromedriver};
use crate::sandbox::Sandbox;
use crate::{PASSWORD, USER};

/// The case every order goes to (item 10 on both sandboxes).
pub const CASE: &str = "100";

/// `oilmat-erp serve` with two au2office workshops, `noisy` and `quiet`,
/// each with its own sandbox ERP and API port.
pub struct Neighbours {
    pub host: HostUnderTest,
    pub noisy_erp: Sandbox,
    pub quiet_erp: Sandbox,
    pub noisy_port: u16,
    pub quiet_port: u16,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Neighbours {
    /// Starts both sandboxes (case [`CASE`], item 10) and the host.
    pub fn start() -> Neighbours {
        let (noisy_erp, quiet_erp) = (Sandbox::start("au2office"), Sandbox::start("au2office"));
        for sandbox in [&noisy_erp, &quiet_erp] {
            sandbox.case(CASE, "open");
            sandbox.item("10");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        let (noisy_port, quiet_port) = (free_port(), free_port());
        let config = dir.path().join("oilmat.toml");
        let table = |name: &str, url: &str, port: u16| {
            format!("[workshops.{name}]\nerp_type = \"au2office\"\nerp_url = \"{url}\"\nport = {port}\nlisten = \"127.0.0.1\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n")
        };
        let text = format!(
            "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n{}{}",
            data_dir.display(),
            table("noisy", noisy_erp.url(), noisy_port),
            table("quiet", quiet_erp.url(), quiet_port)
        );
        std::fs::write(&config, text).expect("write config");
        let host = HostUnderTest::start(&config);
        Neighbours {
            host,
            noisy_erp,
            quiet_erp,
            noisy_port,
            quiet_port,
            data_dir,
            _dir: dir,
        }
    }

    /// Posts `n` orders (`PREFIX-0`...) to the workshop on `port`, each
    /// acknowledged, and waits until all are completed; their ids and the
    /// time from the first post to the last completion.
    pub fn book_batch(port: u16, prefix: &str, n: usize) -> (Vec<String>, Duration) {
        let started = Instant::now();
        let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
        for id in &ids {
            assert_eq!(post_order(port, id, CASE).0, 200, "{id} acknowledged");
        }
        for id in &ids {
            wait_completed(port, id);
        }
        (ids, started.elapsed())
    }

    /// Puts the noisy workshop in trouble until [`Trouble::stop`].
    pub fn trouble(&self) -> Trouble {
        self.noisy_erp.faults(json!({"hang_pages_ms": 60000}));
        let stop = Arc::new(AtomicBool::new(false));
        let flood = {
            let (stop, port) = (stop.clone(), self.noisy_port);
            std::thread::spawn(move || {
                let mut sent = Vec::new();
                while !stop.load(Ordering::Relaxed) && sent.len() < 1500 {
                    let id = format!("flood-{}", sent.len());
                    assert_eq!(post_order(port, &id, CASE).0, 200, "{id} acknowledged");
                    sent.push(id);
                }
                sent
            })
        };
        let pidfile = self.data_dir.join("noisy").join("chromedriver.pid");
        let crasher = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    kill_recorded_chromedriver(&pidfile);
                    // The pace of the crashes, not a wait for a condition.
                    std::thread::sleep(Duration::from_millis(300));
                }
            })
        };
        Trouble {
            stop,
            flood,
            crasher,
        }
    }
}

/// The noisy workshop's trouble: a flood of orders and a chromedriver killer.
pub struct Trouble {
    stop: Arc<AtomicBool>,
    flood: JoinHandle<Vec<String>>,
    crasher: JoinHandle<()>,
}

impl Trouble {
    /// Ends the flood and the crashes; the ids of the flooded orders (each
    /// was acknowledged with 200).
    pub fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let flooded = self.flood.join().expect("the flood ran");
        self.crasher.join().expect("the crasher ran");
        flooded
    }
}
