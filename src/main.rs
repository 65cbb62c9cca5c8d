//! `oilmat-erp`: parse the command line, start telemetry, run the job.

use clap::Parser;
use oilmat_erp::cli::{Cli, Cmd};
use oilmat_erp::{app, check, demo, support, telemetry};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        // The demo tells its story on stdout; its logs go to a file.
        Cmd::Demo(args) => demo::init_logging(args),
        _ => telemetry::logging::init(),
    }
    telemetry::logging::install_panic_hook();
    let result = match cli.command {
        Cmd::Serve(args) => app::run_serve(args),
        Cmd::Workshop(args) => app::run_workshop(args),
        Cmd::Sandbox(args) => app::run_sandbox(args),
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
