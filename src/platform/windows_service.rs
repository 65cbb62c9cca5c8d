//! `oilmat-erp serve` as a Windows service: installed to start at boot
//! (so every active integration starts with the server), run under the
//! service control manager, stopped through the same shutdown future that
//! Ctrl-C resolves ([`super::request_stop`]).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ::windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use ::windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use ::windows_service::service_dispatcher;
use ::windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use anyhow::Context;

/// The service's name (`sc query oilmat-erp`).
pub const SERVICE_NAME: &str = "oilmat-erp";
const DISPLAY_NAME: &str = "OilMat ERP integration";
const DESCRIPTION: &str =
    "Books every litre OilMat dispenses onto the workshop ERP's invoice, exactly once.";
const SERVICE_TYPE: ServiceType = ServiceType::OWN_PROCESS;
/// How long `stop` and `uninstall` wait for the service to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_POLL: Duration = Duration::from_millis(250);

/// Where the installed service keeps its files.
#[derive(Debug, Clone)]
pub struct ServicePaths {
    /// The host config: `%ProgramData%\oilmat-erp\oilmat.toml`.
    pub config: PathBuf,
    /// The secret key: `%ProgramData%\oilmat-erp\secret.key` (outside the data dir).
    pub key_file: PathBuf,
    /// The data dir: `%ProgramData%\oilmat-erp\workshop_logs`.
    pub data_dir: PathBuf,
}

impl ServicePaths {
    /// The paths under `%ProgramData%\oilmat-erp`.
    pub fn program_data() -> ServicePaths {
        let base = std::env::var_os("ProgramData")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
            .join("oilmat-erp");
        ServicePaths {
            config: base.join("oilmat.toml"),
            key_file: base.join("secret.key"),
            data_dir: base.join("workshop_logs"),
        }
    }

    /// The folder holding the config and the key.
    pub fn base(&self) -> Option<&std::path::Path> {
        self.config.parent()
    }
}

/// Registers the service: this executable, `service run` with the explicit
/// paths, automatic start at boot, as LocalSystem.
pub fn install(paths: &ServicePaths) -> anyhow::Result<()> {
    if let Some(base) = paths.base() {
        std::fs::create_dir_all(base)
            .with_context(|| format!("cannot create {}", base.display()))?;
    }
    let executable_path = std::env::current_exe().context("cannot find this executable")?;
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .context("cannot open the service manager (run as Administrator)")?;
    let info = ServiceInfo {
        name: OsString::from(SERVICE_NAME),
        display_name: OsString::from(DISPLAY_NAME),
        service_type: SERVICE_TYPE,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path,
        launch_arguments: run_arguments(paths),
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG)
        .with_context(|| format!("cannot create the service {SERVICE_NAME}"))?;
    service.set_description(DESCRIPTION)?;
    Ok(())
}

/// The arguments the service manager starts this executable with.
fn run_arguments(paths: &ServicePaths) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["service".into(), "run".into()];
    for (flag, path) in [
        ("--config", &paths.config),
        ("--data-dir", &paths.data_dir),
        ("--key-file", &paths.key_file),
    ] {
        args.push(flag.into());
        args.push(path.as_os_str().to_owned());
    }
    args
}

/// Stops the service if it runs and removes it.
pub fn uninstall() -> anyhow::Result<()> {
    let manager = connect()?;
    let service = manager
        .open_service(
            SERVICE_NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .with_context(|| format!("cannot open the service {SERVICE_NAME}"))?;
    if service.query_status()?.current_state != ServiceState::Stopped {
        service.stop()?;
        wait_for(&service, ServiceState::Stopped)?;
    }
    service.delete()?;
    Ok(())
}

/// Starts the installed service.
pub fn start() -> anyhow::Result<()> {
    let service = connect()?
        .open_service(
            SERVICE_NAME,
            ServiceAccess::START | ServiceAccess::QUERY_STATUS,
        )
        .with_context(|| format!("cannot open the service {SERVICE_NAME}"))?;
    service.start(&[] as &[&OsStr])?;
    wait_for(&service, ServiceState::Running)
}

/// Stops the running service and waits until it has stopped.
pub fn stop() -> anyhow::Result<()> {
    let service = connect()?
        .open_service(
            SERVICE_NAME,
            ServiceAccess::STOP | ServiceAccess::QUERY_STATUS,
        )
        .with_context(|| format!("cannot open the service {SERVICE_NAME}"))?;
    service.stop()?;
    wait_for(&service, ServiceState::Stopped)
}

fn connect() -> anyhow::Result<ServiceManager> {
    ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .context("cannot open the service manager (run as Administrator)")
}

/// Polls the service's state until it is `state`, with a deadline.
fn wait_for(
    service: &::windows_service::service::Service,
    state: ServiceState,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        let current = service.query_status()?.current_state;
        if current == state {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("the service is {current:?}, not {state:?}, after {STOP_TIMEOUT:?}");
        }
        std::thread::sleep(STOP_POLL);
    }
}

/// What the service runs: `serve`, until the shutdown future resolves.
type ServeJob = Box<dyn FnOnce() -> anyhow::Result<()> + Send>;

static JOB: OnceLock<std::sync::Mutex<Option<ServeJob>>> = OnceLock::new();

/// Runs `serve` under the service control manager (the process it starts
/// with `service run`); returns when the service has stopped.
pub fn run(serve: impl FnOnce() -> anyhow::Result<()> + Send + 'static) -> anyhow::Result<()> {
    JOB.get_or_init(|| std::sync::Mutex::new(None))
        .lock()
        .map_err(|_| anyhow::anyhow!("the service job lock is poisoned"))?
        .replace(Box::new(serve));
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .context("not started by the service manager (use `oilmat-erp service start`)")
}

::windows_service::define_windows_service!(ffi_service_main, service_main);

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = run_service() {
        tracing::error!(error = %format!("{e:#}"), "the service failed");
    }
}

fn run_service() -> anyhow::Result<()> {
    let status = service_control_handler::register(SERVICE_NAME, |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            super::request_stop();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    })?;
    let report = |state: ServiceState, exit_code: u32| {
        let controls_accepted = match state {
            ServiceState::Running => ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
            _ => ServiceControlAccept::empty(),
        };
        status.set_service_status(ServiceStatus {
            service_type: SERVICE_TYPE,
            current_state: state,
            controls_accepted,
            exit_code: if exit_code == 0 {
                ServiceExitCode::Win32(0)
            } else {
                ServiceExitCode::ServiceSpecific(exit_code)
            },
            checkpoint: 0,
            wait_hint: STOP_TIMEOUT,
            process_id: None,
        })
    };
    report(ServiceState::Running, 0)?;
    let job = JOB
        .get()
        .and_then(|job| job.lock().ok().and_then(|mut job| job.take()));
    let result = match job {
        Some(serve) => serve(),
        None => Err(anyhow::anyhow!("the service has nothing to run")),
    };
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "serve stopped with an error");
    }
    report(ServiceState::Stopped, u32::from(result.is_err()))?;
    result
}
