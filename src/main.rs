//! `oilmat-erp`: parse the command line, start telemetry, run the job.

use clap::Parser;
use oilmat_erp::cli::{Cli, Cmd};
#[cfg(feature = "sandbox")]
use oilmat_erp::demo;
use oilmat_erp::{app, check, support, telemetry};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::logging::init();
    telemetry::logging::install_panic_hook();
    let result = match cli.command {
        Cmd::Serve(args) => app::run_serve(args),
        Cmd::Workshop(args) => app::run_workshop(args),
        #[cfg(feature = "sandbox")]
        Cmd::Sandbox(args) => app::run_sandbox(args),
        #[cfg(feature = "sandbox")]
        Cmd::Demo(args) => demo::run(args),
        Cmd::Events(args) => support::events(args),
        Cmd::Replay(args) => support::replay(args),
        Cmd::Requeue(args) => support::requeue(args),
        Cmd::Check(args) => check::run(args),
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
