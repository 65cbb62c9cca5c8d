//! `oilmat-erp demo`: a sandbox ERP per type, the browser driver, a workshop
//! per sandbox, and a handful of sample orders (good ones, an unknown item, a
//! duplicate); tells what happens to each on stdout in plain words, and
//! where to look. The logs of everything it starts go to a file it names
//! ([`log_file`]), so they do not interleave with the story.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::cli::DemoArgs;
use crate::config::{BrowserSettings, RetryPolicy, Timeouts, Tuning};
use crate::erp::ErpType;
use crate::erp::WebDriverEndpoint;
use crate::http::{self, AdminToken, ApiState, KillSwitch};
use crate::sandbox::{self, SandboxKind, SandboxOptions};
use crate::secrets::Cipher;
use crate::startup::{announce, shutdown_signal};
use crate::telemetry::logging;
use crate::workshop::{self, WorkshopSettings};

const USER: &str = "demo";
const PASSWORD: &str = "demo-password";

/// Where the demo's logs go: `<data dir>/demo.log`.
pub fn log_file(args: &DemoArgs) -> PathBuf {
    args.data.data_dir.join("demo.log")
}

/// Sends the logs of the workshops and sandboxes the demo starts to
/// [`log_file`] (to stderr if it cannot be written). Call it instead of
/// [`logging::init`].
pub fn init_logging(args: &DemoArgs) {
    let path = log_file(args);
    let opened = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| logging::init_to_file(&path));
    if let Err(e) = opened {
        logging::init();
        tracing::warn!(path = %path.display(), error = %e, "cannot write the demo's log file; logging to stderr");
    }
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::startup::ignore_sigxfsz();
    announce("OilMat ERP demo: a sandbox ERP of each type, a workshop for each, and a few sample orders.");
    announce(&format!(
        "The workshops' and sandboxes' logs go to {}",
        log_file(&args).display()
    ));
    actix_rt::System::new().block_on(demo(args))
}

struct Running {
    name: String,
    erp: ErpType,
    /// Makes this run's order ids new, so a second demo run books again.
    run: String,
    sandbox_url: String,
    api_url: String,
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let data_dir = args.data.data_dir.clone();
    let cipher = Cipher::load(&data_dir)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut running = Vec::new();
    let mut workshops = Vec::new();
    for (name, erp) in [
        ("demo-au2office", ErpType::Au2office),
        ("demo-admanager", ErpType::Admanager),
    ] {
        let sandbox_url = start_sandbox(erp)?;
        seed(&client, &sandbox_url).await?;
        let url = url::Url::parse(&sandbox_url)?;
        let settings = WorkshopSettings::new(
            name.into(),
            erp,
            &url,
            WebDriverEndpoint::Spawn,
            data_dir.clone(),
            &demo_tuning(),
        );
        let ws = workshop::start(settings, cipher.clone())
            .with_context(|| format!("cannot start workshop {name}"))?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let api_url = format!("http://{}", listener.local_addr()?);
        let kill: KillSwitch = std::sync::Arc::new(|| {});
        let server = http::serve(
            ApiState {
                workshop: ws.clone(),
                admin: AdminToken::from_env(),
                kill,
            },
            listener,
        )?;
        actix_rt::spawn(server);
        announce(&format!(
            "{name}: a sandbox {erp} ERP runs at {sandbox_url} (log in as {USER}); the workshop takes orders at {api_url}"
        ));
        running.push(Running {
            name: name.into(),
            erp,
            run: chrono::Utc::now().format("%H%M%S").to_string(),
            sandbox_url,
            api_url,
        });
        workshops.push(ws);
    }
    for r in &running {
        post_samples(&client, r).await?;
    }
    for r in &running {
        follow(&client, r).await?;
    }
    print_where_to_look(&running, &data_dir);
    if args.keep_running {
        announce("Running until Ctrl-C.");
        shutdown_signal().await;
    }
    announce("\nStopping the workshops (each closes its browser).");
    for ws in workshops {
        ws.shutdown().await;
    }
    announce("Done.");
    Ok(())
}

fn demo_tuning() -> Tuning {
    Tuning {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff_ms: 500,
            max_backoff_ms: 5_000,
            ..RetryPolicy::DEFAULT
        },
        timeouts: Timeouts {
            step_secs: 15,
            attempt_secs: 90,
            ..Timeouts::DEFAULT
        },
        browser: BrowserSettings {
            idle_close_secs: 60,
        },
        ..Tuning::default()
    }
}

fn start_sandbox(erp: ErpType) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    // The sandbox names ERP types its own way (it shares nothing with the drivers).
    let kind: SandboxKind = erp.as_str().parse().map_err(anyhow::Error::msg)?;
    let opts = SandboxOptions {
        erp: kind,
        data: None,
        session_idle: Duration::from_secs(900),
    };
    actix_rt::spawn(async move {
        if let Err(e) = sandbox::run(opts, listener, std::future::pending()).await {
            tracing::error!(error = %e, "sandbox stopped");
        }
    });
    Ok(url)
}

async fn seed(client: &reqwest::Client, sandbox: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .get(format!("{sandbox}/_sandbox/health"))
        .send()
        .await
        .is_err()
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "sandbox at {sandbox} did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let posts = [
        ("users", json!({"username": USER, "password": PASSWORD})),
        ("cases", json!({"case_id": "558", "status": "open"})),
        ("cases", json!({"case_id": "0559", "status": "open"})),
        ("items", json!({"item_no": "10", "name": "Motorolie 5W-30"})),
        (
            "items",
            json!({"item_no": "0042", "name": "Gearolie 75W-90"}),
        ),
    ];
    for (what, body) in posts {
        client
            .post(format!("{sandbox}/_sandbox/{what}"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

fn samples(r: &Running) -> Vec<Value> {
    let order = |id: &str, case: &str, item: &str, amount: Value| {
        json!({"workshop": r.name, "case_id": case, "product_nr": item, "product_amount": amount,
               "unique_id": format!("{}-{}-{id}", r.erp, r.run), "username": USER, "password": PASSWORD})
    };
    vec![
        order("1", "558", "10", json!("4.5")),
        order("2", "558", "0042", json!(2)),
        order("3", "0559", "10", json!("12.25")),
        order("4", "558", "999", json!("1")),
        order("1", "558", "10", json!("4.5")),
    ]
}

async fn post_samples(client: &reqwest::Client, r: &Running) -> anyhow::Result<()> {
    let mut seen = std::collections::HashSet::new();
    for body in samples(r) {
        let id = body["unique_id"].as_str().unwrap_or("").to_string();
        let again = !seen.insert(id.clone());
        if again {
            announce(&format!("{}: sending order {id} again, as a retrying client would: it must not make a second line", r.name));
        }
        // As the original client does: the order as a JSON-encoded string.
        let answer = client
            .post(format!("{}/create", r.api_url))
            .body(serde_json::to_string(&body.to_string())?)
            .send()
            .await?;
        let status = answer.status();
        let text = answer.text().await?;
        let what = format!(
            "{} litres of item {} for case {}",
            plain(&body["product_amount"]),
            plain(&body["product_nr"]),
            plain(&body["case_id"])
        );
        let outcome = if status.is_success() {
            "accepted".to_string()
        } else {
            format!("refused ({status}): {text}")
        };
        let verb = if again { "sent again" } else { "sent order" };
        announce(&format!("{}: {verb} {id}, {what}: {outcome}", r.name));
    }
    Ok(())
}

async fn follow(client: &reqwest::Client, r: &Running) -> anyhow::Result<()> {
    let mut ids: Vec<String> = samples(r)
        .iter()
        .map(|b| b["unique_id"].as_str().unwrap_or("").to_string())
        .collect();
    ids.sort();
    ids.dedup();
    let mut last: Vec<String> = vec![String::new(); ids.len()];
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let mut done = true;
        for (i, id) in ids.iter().enumerate() {
            let url = format!("{}/check_order_status?unique_id={id}", r.api_url);
            let v: Value = client.get(url).send().await?.json().await?;
            let line = match (v["status"].as_str(), v["reason"].as_str()) {
                (Some(status), Some(reason)) if !reason.is_empty() => {
                    format!("{status} ({reason})")
                }
                (Some(status), _) => status.to_string(),
                (None, _) => "unknown".to_string(),
            };
            if line != last[i] {
                announce(&format!("{}: order {id}: {line}", r.name));
                last[i] = line;
            }
            done &= matches!(
                v["status"].as_str(),
                Some("completed" | "failed" | "bad request")
            );
        }
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let lines: Vec<Value> = client
        .get(format!("{}/_sandbox/cases/558/lines", r.sandbox_url))
        .send()
        .await?
        .json()
        .await?;
    announce(&format!(
        "{}: case 558 in the sandbox ERP now has {} lines (the duplicate made none):",
        r.name,
        lines.len()
    ));
    for line in &lines {
        announce(&format!(
            "    item {}, {} litres, reference \"{}\"",
            plain(&line["item_no"]),
            plain(&line["qty"]),
            plain(&line["reference"])
        ));
    }
    Ok(())
}

/// A JSON value as a person reads it: strings without quotes.
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn print_where_to_look(running: &[Running], data_dir: &std::path::Path) {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "oilmat-erp".into());
    let dir = data_dir.display();
    announce("\nWhere to look (the URLs live while the demo runs: add --keep-running):");
    announce(&format!(
        "  the logs: {}",
        data_dir.join("demo.log").display()
    ));
    for r in running {
        let (name, api) = (&r.name, &r.api_url);
        announce(&format!("  {name}: {api}/queue?type=error, {api}/metrics"));
        announce(&format!(
            "    the log: {exe} events {name} --data-dir {dir}"
        ));
        announce(&format!(
            "    why an order failed: {exe} replay {name} --data-dir {dir} --unique-id {}-{}-4",
            r.erp, r.run
        ));
        announce(&format!(
            "    evidence (screenshots, page sources): {}",
            data_dir.join(name).join("evidence").display()
        ));
    }
}
