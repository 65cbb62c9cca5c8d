//! What the benchmarks print and measure beside the figures: their command
//! line, the machine, resident memory, threads and CPU time from /proc, and
//! a data dir on the project's disk.

use std::time::Duration;

use crate::proc::target_dir;

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
    let root = target_dir().join("bench-data");
    std::fs::create_dir_all(&root).expect("create target/bench-data");
    tempfile::Builder::new()
        .prefix(&format!("{what}-"))
        .tempdir_in(root)
        .expect("temp dir")
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

/// A figure next to its limit: `"12,345/s (limit 20,000/s: 0.62x)"`.
pub fn versus(figure: f64, limit: f64) -> String {
    format!("{:.2}x", figure / limit)
}
