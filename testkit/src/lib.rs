//! What the tests and benchmarks of `oilmat-erp` share, in one place:
//! - [`proc`]: the real binary as a child process ([`Proc`], found by
//!   [`bin`]), waiting with a deadline ([`wait_until`]), free ports, process
//!   checks;
//! - [`sandbox`]: a sandbox ERP process and its control API ([`Sandbox`]),
//!   the requests it saw ([`SeenRequest`]);
//! - [`workshop`]: a workshop process and its HTTP API ([`Workshop`]), the
//!   order OilMat sends ([`order`]), the support commands ([`cli`]);
//! - [`host`]: `oilmat-erp serve` and its workshops' ports ([`HostUnderTest`]);
//! - [`isolation`]: two workshops under one host, one of them in trouble;
//! - [`bench`]: benchmark command line, machine, memory and CPU figures;
//! - [`load`]: an HTTP/1.1 keep-alive load generator;
//! - [`in_process`]: the sandbox ERP inside the test process and a real
//!   browser session, for the driver tests.
//!
//! Never a fixed sleep: every wait polls a condition with a deadline.

pub mod bench;
pub mod host;
pub mod in_process;
pub mod isolation;
pub mod load;
pub mod proc;
pub mod sandbox;
pub mod workshop;

pub use bench::{arg, cpu_time, data_dir, flag, machine, mb, num, rss_bytes, threads, versus};
pub use host::{order_status, post_order, wait_completed, HostUnderTest, TOKEN};
pub use load::{post_load, post_many, BodyFn, Load};
pub use proc::{
    bin, client, free_port, kill_recorded_chromedriver, log_dir, target_dir, wait_until, Proc,
};
pub use sandbox::{login_path, save_path, seeded_sandbox, Sandbox, SeenRequest};
pub use workshop::{cli, order, order_json, Workshop, FAST, TEST_LOG};

/// The ERP login the sandbox processes are seeded with.
pub const USER: &str = "ilx";
/// Its password.
pub const PASSWORD: &str = "S3cret-pw-4711";
