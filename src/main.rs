//! `oilmat-erp`: parse the command line, start telemetry, build the settings,
//! run the job until Ctrl-C or SIGTERM (on Windows also the service's stop).

use std::net::TcpListener;

use anyhow::Context;
use clap::Parser;
#[cfg(feature = "sandbox")]
use oilmat_erp::cli::SandboxArgs;
use oilmat_erp::cli::{Cli, Cmd, ServeArgs, ServiceAction, ServiceArgs, WorkshopArgs};
#[cfg(feature = "sandbox")]
use oilmat_erp::demo;
use oilmat_erp::http::AdminToken;
use oilmat_erp::startup::{self, shutdown_signal};
use oilmat_erp::{check, support, telemetry};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        // The demo tells its story on stdout; its logs go to a file.
        #[cfg(feature = "sandbox")]
        Cmd::Demo(args) => demo::init_logging(args),
        // A Windows service has no console: its log goes beside its config.
        Cmd::Service(ServiceArgs {
            action: ServiceAction::Run(args),
        }) => {
            let log = args.config.with_file_name("oilmat-erp.log");
            if telemetry::logging::init_to_file(&log).is_err() {
                telemetry::logging::init();
            }
        }
        _ => telemetry::logging::init(),
    }
    telemetry::logging::install_panic_hook();
    let result = match cli.command {
        Cmd::Serve(args) => serve(args),
        Cmd::Workshop(args) => workshop(args),
        #[cfg(feature = "sandbox")]
        Cmd::Sandbox(args) => sandbox(args),
        #[cfg(feature = "sandbox")]
        Cmd::Demo(args) => demo::run(args),
        Cmd::Events(args) => support::events(args),
        Cmd::Replay(args) => support::replay(args),
        Cmd::Requeue(args) => support::requeue(args),
        Cmd::Check(args) => check::run(args),
        Cmd::Service(args) => service(args),
    };
    // The job's runtime is gone: send the last trace spans (bounded wait).
    telemetry::shutdown();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oilmat-erp: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `oilmat-erp serve`.
fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (config, created) = args.config()?;
    if created {
        startup::announce(&format!(
            "wrote a working example config to {}",
            args.config.display()
        ));
    }
    let admin = AdminToken::from_env();
    actix_rt::System::new().block_on(startup::run_host(config, admin, shutdown_signal()))
}

/// `oilmat-erp service`: the Windows service.
#[cfg(windows)]
fn service(args: ServiceArgs) -> anyhow::Result<()> {
    use oilmat_erp::platform::windows_service::{self as svc, ServicePaths};
    match args.action {
        ServiceAction::Install => {
            let paths = ServicePaths::program_data();
            svc::install(&paths)?;
            // The example config, to edit before the first start.
            oilmat_erp::config::HostConfig::load_or_create(&paths.config)?;
            startup::announce(&format!(
                "installed the service {}: config {}, key {}, data {}; edit the config, then `oilmat-erp service start`",
                svc::SERVICE_NAME,
                paths.config.display(),
                paths.key_file.display(),
                paths.data_dir.display()
            ));
            Ok(())
        }
        ServiceAction::Uninstall => svc::uninstall(),
        ServiceAction::Start => svc::start(),
        ServiceAction::Stop => svc::stop(),
        ServiceAction::Run(args) => svc::run(move || serve(args)),
    }
}

/// `oilmat-erp service` elsewhere: Windows only (exit code 2).
#[cfg(not(windows))]
fn service(_args: ServiceArgs) -> anyhow::Result<()> {
    eprintln!(
        "oilmat-erp: `service` is for Windows only; on Linux run `oilmat-erp serve` under systemd (see the README's \"Linux (systemd)\" section)"
    );
    std::process::exit(2);
}

/// `oilmat-erp workshop`.
fn workshop(args: WorkshopArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    oilmat_erp::event_log::set_bad_requests_kept(args.bad_requests_kept);
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let admin = AdminToken::from_env();
    actix_rt::System::new().block_on(startup::run_workshop(
        settings,
        admin,
        listener,
        shutdown_signal(),
    ))
}

/// `oilmat-erp sandbox`.
#[cfg(feature = "sandbox")]
fn sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    let options = args.options()?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    actix_rt::System::new().block_on(startup::run_sandbox(options, listener, shutdown_signal()))
}
