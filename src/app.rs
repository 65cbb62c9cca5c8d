//! Builds and runs what the subcommands start: a workshop integration with its
//! HTTP API, or a sandbox ERP, until Ctrl-C, SIGTERM or `/kill`.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::sync::watch;

use crate::cli::{ProbeArgs, Tuning, WorkshopArgs};
use crate::erp::Credentials;
use crate::erp::ErpType;
use crate::erp::{BrowserConfig, WebDriverEndpoint};
use crate::event_log::RetryPolicy;
use crate::http::{self, AdminToken, ApiState, KillSwitch};
#[cfg(feature = "sandbox")]
use crate::sandbox::{self, SandboxKind, SandboxOptions};
use crate::secrets::Cipher;
use crate::workshop::{self, ProbeSettings, WorkshopSettings};

/// Lets file-size limits surface as write errors (503) instead of killing the process.
pub fn ignore_sigxfsz() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// The settings of `oilmat-erp workshop`, checked.
pub fn workshop_settings(args: &WorkshopArgs) -> anyhow::Result<WorkshopSettings> {
    workshop::validate_name(&args.workshop).map_err(anyhow::Error::msg)?;
    let erp_type: ErpType = args.erp_type.parse().map_err(anyhow::Error::msg)?;
    let Some(erp_url) = args.erp_url.clone() else {
        bail!("missing --erp-url: the base URL of the workshop's {erp_type} (e.g. --erp-url https://erp.example, or OILMAT_ERP_URL)");
    };
    check_url(&erp_url)?;
    let endpoint: WebDriverEndpoint = args.webdriver.parse().map_err(anyhow::Error::msg)?;
    let mut settings = settings_from(
        args.workshop.clone(),
        erp_type,
        erp_url,
        endpoint,
        args.data.data_dir.clone(),
        &args.tuning,
    );
    settings.probe = probe_settings(&args.probe)?;
    Ok(settings)
}

/// The periodic probe of `oilmat-erp workshop`: `None` unless both
/// `--probe-case` and a non-zero `--probe-interval-secs` are given.
fn probe_settings(args: &ProbeArgs) -> anyhow::Result<Option<ProbeSettings>> {
    let interval = args.probe_interval_secs.filter(|secs| *secs > 0);
    let (case_id, interval) = match (&args.probe_case, interval) {
        (Some(case_id), Some(secs)) => (case_id.clone(), Duration::from_secs(secs)),
        (None, Some(_)) => {
            bail!("--probe-interval-secs needs --probe-case (the case the probe opens)")
        }
        _ => return Ok(None),
    };
    if case_id.trim().is_empty() {
        bail!("--probe-case is empty");
    }
    let Some(username) = args.probe_username.clone() else {
        bail!(
            "the probe needs an ERP login: --probe-username USER, the password in ${}",
            args.probe_password_env
        );
    };
    let password = std::env::var(&args.probe_password_env).with_context(|| {
        format!(
            "the probe's password: ${} is not set",
            args.probe_password_env
        )
    })?;
    Ok(Some(ProbeSettings {
        case_id,
        interval,
        credentials: Credentials { username, password },
    }))
}

/// Settings from their parts.
pub fn settings_from(
    name: String,
    erp_type: ErpType,
    erp_url: String,
    endpoint: WebDriverEndpoint,
    data_dir: std::path::PathBuf,
    tuning: &Tuning,
) -> WorkshopSettings {
    let step_timeout = Duration::from_secs(tuning.step_timeout_secs.max(1));
    let mut browser = BrowserConfig::new(endpoint);
    browser.step_timeout = step_timeout;
    // A save that never answers holds chromedriver until the page-load
    // timeout; keep it short, but never shorter than a slow first page needs.
    browser.page_load_timeout = step_timeout.max(Duration::from_secs(15));
    WorkshopSettings {
        name,
        erp_type,
        erp_url: erp_url.trim_end_matches('/').to_string(),
        data_dir,
        browser,
        retry: RetryPolicy {
            max_attempts: tuning.max_attempts.max(1),
            initial_backoff_ms: tuning.initial_backoff_ms,
            max_backoff_ms: tuning.max_backoff_ms.max(tuning.initial_backoff_ms),
            settle_ms: tuning.settle_secs.saturating_mul(1000),
        },
        step_timeout,
        attempt_timeout: Duration::from_secs(tuning.attempt_timeout_secs.max(5)),
        idle_close: Duration::from_secs(tuning.idle_close_secs),
        credentials: None,
        api_key: None,
        evidence: crate::workshop::evidence::Retention {
            max_age: Duration::from_secs(tuning.evidence_max_age_days.saturating_mul(24 * 3600)),
            max_files: tuning.evidence_max_files,
        },
        probe: None,
    }
}

/// Refuses anything but an http(s) URL with a host.
pub fn check_url(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .with_context(|| format!("ERP URL {url:?} must start with http:// or https://"))?;
    if rest.trim_matches('/').is_empty() || rest.contains(char::is_whitespace) {
        bail!("ERP URL {url:?} has no host");
    }
    Ok(())
}

/// `oilmat-erp workshop`: runs one integration until stopped.
pub fn run_workshop(args: WorkshopArgs) -> anyhow::Result<()> {
    ignore_sigxfsz();
    let settings = workshop_settings(&args)?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    actix_rt::System::new().block_on(serve_workshop(settings, listener))
}

async fn serve_workshop(settings: WorkshopSettings, listener: TcpListener) -> anyhow::Result<()> {
    let cipher = Cipher::load(&settings.data_dir)?;
    let name = settings.name.clone();
    let erp = settings.erp_type;
    let ws = workshop::start(settings, cipher).context("cannot start the workshop")?;
    let admin = AdminToken::from_env();
    if !admin.is_set() {
        tracing::warn!(
            "no OILMAT_ADMIN_TOKEN set: control endpoints accept callers on loopback only"
        );
    }
    let (kill_tx, mut kill_rx) = watch::channel(false);
    let kill: KillSwitch = Arc::new(move || {
        kill_tx.send_replace(true);
    });
    let addr = listener.local_addr()?;
    let state = ApiState {
        workshop: ws.clone(),
        admin,
        kill,
    };
    let server = http::serve(state, listener)?;
    let handle = server.handle();
    actix_rt::spawn(server);
    announce(&format!(
        "oilmat-erp workshop {name} ({erp}) listening on http://{addr}"
    ));
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("signal received; stopping"),
        _ = kill_rx.wait_for(|k| *k) => tracing::info!("stopping on /kill"),
    }
    // Let the /kill answer go out, stop intake, put the order in progress back.
    let _ = tokio::time::timeout(Duration::from_secs(2), handle.stop(true)).await;
    ws.shutdown().await;
    Ok(())
}

/// Prints a line on stdout at once (tests and scripts wait for it).
pub fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `oilmat-erp sandbox`: serves the sandbox ERP until stopped.
#[cfg(feature = "sandbox")]
pub fn run_sandbox(args: crate::cli::SandboxArgs) -> anyhow::Result<()> {
    let erp: SandboxKind = args.erp_type.parse().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    let opts = SandboxOptions {
        erp,
        data: args.data,
        session_idle: Duration::from_secs(args.session_idle_secs),
    };
    actix_rt::System::new().block_on(async move {
        announce(&format!(
            "oilmat-erp sandbox {erp} listening on http://{addr}"
        ));
        sandbox::run(opts, listener, shutdown_signal()).await
    })
}

/// `oilmat-erp serve`: the integration host until Ctrl-C or SIGTERM.
pub fn run_serve(args: crate::cli::ServeArgs) -> anyhow::Result<()> {
    ignore_sigxfsz();
    let (config, created) = crate::config::HostConfig::load_or_create(&args.config)?;
    if created {
        announce(&format!(
            "wrote a working example config to {}",
            args.config.display()
        ));
    }
    let data_dir = args.data_dir.unwrap_or(config.data_dir.clone());
    let endpoint: WebDriverEndpoint = config.webdriver.parse().map_err(anyhow::Error::msg)?;
    let admin = AdminToken::from_env();
    let listen = management_address(&config.management.listen, &admin)?;
    let listener = TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen} (management)"))?;
    let settings = crate::host::HostSettings {
        data_dir: data_dir.clone(),
        endpoint,
        file: config.workshops,
        admin: admin.clone(),
    };
    actix_rt::System::new().block_on(async move {
        let cipher = Cipher::load(&data_dir)?;
        let (host, mut kills) = crate::host::Host::new(settings, cipher)?;
        host.start_all().await;
        let addr = listener.local_addr()?;
        let server = crate::management::serve(host.clone(), admin, listener)?;
        let handle = server.handle();
        actix_rt::spawn(server);
        announce(&format!(
            "oilmat-erp host: management API listening on http://{addr}"
        ));
        let stop = shutdown_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                Some(name) = kills.recv() => {
                    tracing::warn!(workshop = %name, "stopping this integration on its /kill");
                    let _ = host.stop(&name).await;
                }
            }
        }
        tracing::info!("stopping every integration");
        let _ = tokio::time::timeout(Duration::from_secs(2), handle.stop(true)).await;
        host.stop_all().await;
        Ok(())
    })
}

/// The management listener: loopback only when no admin token is configured.
fn management_address(listen: &str, admin: &AdminToken) -> anyhow::Result<std::net::SocketAddr> {
    let mut addr: std::net::SocketAddr = listen.parse().with_context(|| {
        format!("management.listen {listen:?} is not an address like 127.0.0.1:8080")
    })?;
    if !admin.is_set() {
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "no OILMAT_ADMIN_TOKEN set: the management API listens on loopback only");
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        } else {
            tracing::warn!("no OILMAT_ADMIN_TOKEN set: the management API accepts loopback callers without a token");
        }
    }
    Ok(addr)
}
