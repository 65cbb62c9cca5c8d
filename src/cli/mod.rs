//! The command line: one binary, `oilmat-erp`, with a subcommand per job;
//! [`settings`] turns a subcommand's flags into the typed settings it runs on.

pub mod settings;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Tuning;

/// Gets every litre OilMat dispenses onto the workshop ERP's invoice, exactly once.
#[derive(Debug, Parser)]
#[command(name = "oilmat-erp", version, about, args_override_self = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The integration host: every workshop of the config, and the management API.
    Serve(ServeArgs),
    /// One workshop integration alone (as `python3 app.py 5000 hosses admanager` was).
    Workshop(WorkshopArgs),
    /// The sandbox ERP of one type, for tests, the demo and trying an integration.
    #[cfg(feature = "sandbox")]
    Sandbox(SandboxArgs),
    /// Everything on embedded defaults: a sandbox ERP, the browser driver, a
    /// workshop and a few sample orders; prints where to look.
    #[cfg(feature = "sandbox")]
    Demo(DemoArgs),
    /// Prints a workshop's event log, oldest first.
    Events(EventsArgs),
    /// Rebuilds the order-status and queue views from the log alone and prints them.
    Replay(ReplayArgs),
    /// Puts failed orders back on the task queue (recorded as an event).
    Requeue(RequeueArgs),
    /// Synthetic check: logs in and opens the probe case, saving nothing;
    /// prints each step's result and time; exit code 1 if it fails.
    Check(CheckArgs),
    /// Windows only: install, uninstall, start or stop `serve` as a Windows
    /// service (on Linux, the README's systemd unit does this).
    Service(ServiceArgs),
}

/// Where workshop data lives.
#[derive(Debug, Args, Clone)]
pub struct DataDir {
    /// The data dir; each workshop keeps everything under DIR/WORKSHOP/.
    #[arg(long, default_value = "workshop_logs")]
    pub data_dir: PathBuf,
}

/// `oilmat-erp serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file (created with a working example if missing).
    #[arg(long, default_value = "oilmat.toml")]
    pub config: PathBuf,
    /// Overrides the config's data_dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The secret key's file (created readable by its owner only if
    /// missing); default: the key file's default location.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

/// `oilmat-erp service` (Windows only).
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// What to do with the service.
    #[command(subcommand)]
    pub action: ServiceAction,
}

/// The actions of `oilmat-erp service`.
#[derive(Debug, Subcommand)]
pub enum ServiceAction {
    /// Registers `serve` as a service that starts at boot: the config and the
    /// key in %ProgramData%\oilmat-erp, the data in its workshop_logs folder.
    Install,
    /// Stops the service and removes it (the data, config and key stay).
    Uninstall,
    /// Starts the installed service.
    Start,
    /// Stops the service (every integration stops as on Ctrl-C).
    Stop,
    /// What the service manager runs: `serve` under its control.
    #[command(hide = true)]
    Run(ServeArgs),
}

/// `oilmat-erp workshop`.
#[derive(Debug, Args)]
pub struct WorkshopArgs {
    /// The port of the workshop's HTTP API (0 picks a free one and prints it).
    pub port: u16,
    /// The workshop's name (its folder under the data dir).
    pub workshop: String,
    /// The ERP type: au2office or admanager.
    pub erp_type: String,
    /// The ERP's base URL, e.g. https://erp.example (or OILMAT_ERP_URL).
    #[arg(long, env = "OILMAT_ERP_URL")]
    pub erp_url: Option<String>,
    /// "spawn" (start and supervise chromedriver here) or a WebDriver URL (e.g. a Selenium Grid).
    #[arg(long, default_value = "spawn", env = "OILMAT_WEBDRIVER")]
    pub webdriver: String,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub host: String,
    /// The environment variable holding the API key `/create` then needs
    /// (`X-Api-Key`); without it `/create` is anonymous, as the original's.
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// How many ids that were only ever bad requests the views keep (the
    /// newest; older ones answer 404 from /check_order_status).
    #[arg(long, default_value_t = crate::event_log::BAD_REQUESTS_KEPT)]
    pub bad_requests_kept: usize,
    #[command(flatten)]
    pub data: DataDir,
    #[command(flatten)]
    pub tuning: Tuning,
    #[command(flatten)]
    pub probe: ProbeArgs,
}

/// The periodic synthetic check of `oilmat-erp workshop` (off by default).
#[derive(Debug, Args, Clone, Default)]
pub struct ProbeArgs {
    /// The case the probe opens (only looked at, never changed).
    #[arg(long, env = "OILMAT_PROBE_CASE")]
    pub probe_case: Option<String>,
    /// Probe every this many seconds while idle; 0 or absent: off.
    #[arg(long, env = "OILMAT_PROBE_INTERVAL_SECS")]
    pub probe_interval_secs: Option<u64>,
    /// The ERP user the probe logs in as (orders bring their own login).
    #[arg(long, env = "OILMAT_PROBE_USERNAME")]
    pub probe_username: Option<String>,
    /// The environment variable holding that user's password.
    #[arg(long, default_value = "OILMAT_PROBE_PASSWORD")]
    pub probe_password_env: String,
}

/// `oilmat-erp sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The ERP type to serve: au2office or admanager.
    pub erp_type: String,
    /// The port (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// A JSON seed file: {"users":[...],"cases":[...],"items":[...]}.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Sessions expire after this many idle seconds.
    #[arg(long, default_value_t = 900)]
    pub session_idle_secs: u64,
}

/// `oilmat-erp demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub data: DemoDataDir,
    /// Keep running after the sample orders are done (Ctrl-C stops).
    #[arg(long)]
    pub keep_running: bool,
}

/// The demo's data dir.
#[derive(Debug, Args, Clone)]
pub struct DemoDataDir {
    /// Where the demo keeps its workshops' logs.
    #[arg(long, default_value = "workshop_logs/demo")]
    pub data_dir: PathBuf,
}

/// `oilmat-erp events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The workshop.
    pub workshop: String,
    /// Only this order's events.
    #[arg(long)]
    pub unique_id: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-28T10:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Only orders whose current status is this (received, processing, completed, bad request, failed).
    #[arg(long)]
    pub status: Option<String>,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// Keep printing new events as they are appended.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub data: DataDir,
}

/// `oilmat-erp replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The workshop.
    pub workshop: String,
    /// One order's whole timeline.
    #[arg(long)]
    pub unique_id: Option<String>,
    #[command(flatten)]
    pub data: DataDir,
}

/// `oilmat-erp requeue`.
#[derive(Debug, Args)]
pub struct RequeueArgs {
    /// The workshop.
    pub workshop: String,
    /// One order; without it, every order on the error queue.
    #[arg(long)]
    pub unique_id: Option<String>,
    /// The running workshop's API (e.g. http://127.0.0.1:5000), when the
    /// service runs; the admin token comes from OILMAT_ADMIN_TOKEN.
    #[arg(long)]
    pub url: Option<String>,
    #[command(flatten)]
    pub data: DataDir,
}

/// `oilmat-erp check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The workshop (its table in --config, if given).
    pub workshop: String,
    /// The host config to read the workshop from (with the host's changes
    /// kept under its data dir); without it, the flags say everything.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Overrides the config's data_dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The ERP type: au2office or admanager.
    #[arg(long)]
    pub erp_type: Option<String>,
    /// The ERP's base URL.
    #[arg(long)]
    pub erp_url: Option<String>,
    /// The ERP user to log in as.
    #[arg(long)]
    pub username: Option<String>,
    /// The environment variable holding the password (there is no
    /// --password: it would show in `ps`).
    #[arg(long)]
    pub password_env: Option<String>,
    /// The case to open (default: the workshop's probe_case).
    #[arg(long = "case")]
    pub case_id: Option<String>,
    /// "spawn" or a WebDriver URL (default: the config's, else spawn).
    #[arg(long, env = "OILMAT_WEBDRIVER")]
    pub webdriver: Option<String>,
    /// The longest one browser step may take, in seconds.
    #[arg(long, default_value_t = 20)]
    pub step_timeout_secs: u64,
}
