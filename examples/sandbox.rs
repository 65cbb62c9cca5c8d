//! Runs a sandbox ERP by hand: `cargo run --example sandbox -- au2office [PORT] [SEED.json]`.
//! Prints the bound address; stops on Ctrl-C.

use std::net::TcpListener;

use oilmat_erp::erp::sandbox::{run, SandboxOptions};
use oilmat_erp::erp::ErpType;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let erp: ErpType = args
        .next()
        .unwrap_or_else(|| "au2office".into())
        .parse()
        .map_err(anyhow::Error::msg)?;
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(0);
    let mut opts = SandboxOptions::new(erp);
    opts.data = args.next().map(Into::into);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!(
        "sandbox {erp} listening on http://{}",
        listener.local_addr()?
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("ctrl-c {:?}", std::time::SystemTime::now());
    };
    let r = run(opts, listener, shutdown).await;
    eprintln!("run returned {:?}", std::time::SystemTime::now());
    r
}
