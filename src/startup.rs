//! Builds the service from typed settings and runs it until a shutdown
//! future resolves: one workshop with its HTTP API ([`run_workshop`]), the
//! integration host with its management API ([`run_host`]), or a sandbox
//! ERP ([`run_sandbox`]). `main` passes Ctrl-C/SIGTERM as the shutdown;
//! tests and benches pass their own. Each runs inside an actix system.

use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::HostConfig;
use crate::erp::WebDriverEndpoint;
use crate::host::{Host, HostSettings};
use crate::http::{self, AdminToken, ApiState, KillSwitch};
use crate::platform;
#[cfg(feature = "sandbox")]
use crate::sandbox::{self, SandboxOptions};
use crate::secrets::Cipher;
use crate::workshop::{self, WorkshopSettings};

pub mod summary;

/// Runs one workshop integration and its HTTP API on `listener` until
/// `shutdown` resolves or `/kill` is called; then stops intake and puts
/// the order in progress back.
pub async fn run_workshop(
    settings: WorkshopSettings,
    admin: AdminToken,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    ignore_sigxfsz();
    let cipher = Cipher::load(&settings.data_dir)?;
    let name = settings.name.clone();
    let erp = settings.erp_type;
    let common = summary::Common {
        admin_token: admin.is_set(),
        endpoint: &settings.browser.endpoint,
    };
    let erp_url = url::Url::parse(&settings.erp_url)
        .with_context(|| format!("erp_url {:?}", settings.erp_url))?;
    summary::log(&summary::workshop(
        &common,
        listener.local_addr()?,
        settings.api_key.is_some(),
        &erp_url,
    ));
    if settings.api_key.is_none() {
        tracing::warn!(
            "no --api-key-env given: /create accepts anonymous orders (as the original did)"
        );
    }
    let ws = workshop::start(settings, cipher).context("cannot start the workshop")?;
    if !admin.is_set() {
        tracing::warn!(
            "no OILMAT_ADMIN_TOKEN set: control endpoints accept only callers local in every way (loopback peer, loopback Host, no proxy headers)"
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
        _ = shutdown => tracing::info!("shutdown requested; stopping"),
        _ = kill_rx.wait_for(|k| *k) => tracing::info!("stopping on /kill"),
    }
    // Let the /kill answer go out, stop intake, put the order in progress back.
    let _ = tokio::time::timeout(Duration::from_secs(2), handle.stop(true)).await;
    ws.shutdown().await;
    Ok(())
}

/// Runs the integration host: every workshop of `config` (with the
/// management API's kept changes) and the management API on
/// `config.management.listen`, until `shutdown` resolves.
pub async fn run_host(
    config: HostConfig,
    admin: AdminToken,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    ignore_sigxfsz();
    if let Some(kept) = config.bad_requests_kept {
        crate::event_log::set_bad_requests_kept(kept);
    }
    let endpoint: WebDriverEndpoint = config.webdriver.parse().map_err(anyhow::Error::msg)?;
    let listen = management_address(&config.management.listen, &admin)?;
    let listener = TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen} (management)"))?;
    let cipher = match &config.key_file {
        Some(path) => Cipher::load_file(path)?,
        None => Cipher::load(&config.data_dir)?,
    };
    let settings = HostSettings {
        data_dir: config.data_dir.clone(),
        endpoint: endpoint.clone(),
        file: config.workshops.clone(),
        admin: admin.clone(),
    };
    let (host, mut kills) = Host::new(settings, cipher)?;
    host.start_all().await;
    let addr = listener.local_addr()?;
    let console = crate::console::Console::from_env(config.console.clone());
    summary::log(&summary::host(
        &summary::Common {
            admin_token: admin.is_set(),
            endpoint: &endpoint,
        },
        &config,
        addr,
        !console.is_off(),
        &host.configs().await,
    ));
    let server = crate::management::serve_with_console(host.clone(), admin, console, listener)?;
    let handle = server.handle();
    actix_rt::spawn(server);
    announce(&format!(
        "oilmat-erp host: management API listening on http://{addr}"
    ));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
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
}

/// Serves the sandbox ERP on `listener` until `shutdown` resolves.
#[cfg(feature = "sandbox")]
pub async fn run_sandbox(
    options: SandboxOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    announce(&format!(
        "oilmat-erp sandbox {} listening on http://{addr}",
        options.erp
    ));
    sandbox::run(options, listener, shutdown).await
}

/// The management listener: loopback only when no admin token is configured.
fn management_address(listen: &str, admin: &AdminToken) -> anyhow::Result<SocketAddr> {
    let mut addr: SocketAddr = listen.parse().with_context(|| {
        format!("management.listen {listen:?} is not an address like 127.0.0.1:8080")
    })?;
    if !admin.is_set() {
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "no OILMAT_ADMIN_TOKEN set: the management API listens on loopback only");
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        } else {
            tracing::warn!("no OILMAT_ADMIN_TOKEN set: the management API accepts without a token only callers local in every way (loopback peer, loopback Host, no proxy headers)");
        }
    }
    Ok(addr)
}

/// Lets file-size limits surface as write errors (503) instead of killing
/// the process (no-op on Windows, which has no SIGXFSZ).
pub fn ignore_sigxfsz() {
    platform::ignore_sigxfsz();
}

/// Prints a line on stdout at once (tests and scripts wait for it).
pub fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Resolves on Ctrl-C or SIGTERM (on Windows: Ctrl-C, Ctrl-Break or the
/// service's stop): the shutdown `main` passes.
pub async fn shutdown_signal() {
    platform::shutdown_signal().await;
}
