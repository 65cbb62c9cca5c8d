//! `oilmat-erp check WORKSHOP`: the synthetic check by hand. In a fresh
//! browser it logs in on the workshop's ERP and opens the probe case, saving
//! nothing, and prints each step's result and time. The workshop comes from
//! the host config (the host's kept changes win, as under `serve`); flags
//! override it or say everything for a standalone workshop.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::cli::CheckArgs;
use crate::config::{self, HostConfig, IntegrationConfig};
use crate::erp::probe::{self, ProbeTarget};
use crate::erp::Credentials;
use crate::erp::ErpType;
use crate::erp::WebDriverEndpoint;
use crate::host::state::HostState;
use crate::secrets::{Cipher, Secret};
use crate::startup::announce;

/// Runs the check; an error (exit code 1) when it fails.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    crate::workshop::validate_name(&args.workshop).map_err(anyhow::Error::msg)?;
    let (target, endpoint) = resolve(&args)?;
    announce(&format!(
        "oilmat-erp check {}: {} at {} as {}, case {}",
        args.workshop, target.erp, target.base_url, target.creds.username, target.case_id
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(probe::check(&endpoint, &target));
    announce(&report.to_string());
    match report.result {
        Ok(()) => Ok(()),
        Err(e) => bail!("check of {} failed: {}", args.workshop, e.reason()),
    }
}

/// What to probe and where the browser is: the config's workshop, flags over it.
fn resolve(args: &CheckArgs) -> anyhow::Result<(ProbeTarget, WebDriverEndpoint)> {
    let (base, file_webdriver) = match &args.config {
        Some(path) => from_config(path, args)?,
        None => (None, None),
    };
    let hint = match (&args.config, &base) {
        (Some(path), None) => format!(
            " (workshop {:?} is not in {})",
            args.workshop,
            path.display()
        ),
        _ => String::new(),
    };
    let mut config = base.unwrap_or_default().merged(&from_flags(args)?);
    config.resolve_password().map_err(anyhow::Error::msg)?;
    let missing = |what: &str| anyhow::anyhow!("missing {what}{hint}");
    let erp: ErpType = config
        .erp_type
        .ok_or_else(|| missing("the ERP type: --erp-type or erp_type in --config"))?
        .parse()
        .map_err(anyhow::Error::msg)?;
    let base_url = config
        .erp_url
        .ok_or_else(|| missing("the ERP URL: --erp-url or erp_url in --config"))?;
    config::check_url("erp_url", &base_url).map_err(anyhow::Error::msg)?;
    let username = config
        .username
        .ok_or_else(|| missing("the ERP user: --username or username in --config"))?;
    let password = config.password.ok_or_else(|| {
        missing("the password: --password-env VAR, or password / password_env in --config")
    })?;
    let case_id = config
        .probe_case
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| missing("the probe case: --case ID or probe_case in --config"))?;
    let endpoint = (args.webdriver.clone())
        .or(file_webdriver)
        .unwrap_or_else(|| "spawn".to_string())
        .parse()
        .map_err(anyhow::Error::msg)?;
    let target = ProbeTarget {
        erp,
        base_url: config::base_url(&base_url).to_string(),
        creds: Credentials {
            username,
            password: password.expose().to_string(),
        },
        case_id,
        step_timeout: Duration::from_secs(args.step_timeout_secs.max(1)),
    };
    Ok((target, endpoint))
}

/// The fields the flags set (the password read from its variable).
fn from_flags(args: &CheckArgs) -> anyhow::Result<IntegrationConfig> {
    let password = match &args.password_env {
        Some(var) => {
            Some(Secret::new(std::env::var(var).with_context(|| {
                format!("--password-env: ${var} is not set")
            })?))
        }
        None => None,
    };
    Ok(IntegrationConfig {
        erp_type: args.erp_type.clone(),
        erp_url: (args.erp_url.as_deref())
            .map(|url| config::parse_url("--erp-url", url))
            .transpose()
            .map_err(anyhow::Error::msg)?,
        username: args.username.clone(),
        password,
        probe_case: args.case_id.clone(),
        ..Default::default()
    })
}

/// The workshop as the host would run it (file, then the host's kept
/// changes), if it has one, and the file's WebDriver endpoint.
fn from_config(
    path: &Path,
    args: &CheckArgs,
) -> anyhow::Result<(Option<IntegrationConfig>, Option<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file =
        HostConfig::parse(&text).with_context(|| format!("invalid config {}", path.display()))?;
    let data_dir = args.data_dir.clone().unwrap_or(file.data_dir.clone());
    let mut workshops = file.workshops.clone();
    if HostState::exists(&data_dir) {
        let cipher = Cipher::load(&data_dir)?;
        workshops = HostState::load(&data_dir, &cipher)?.effective(&file.workshops);
    }
    Ok((workshops.remove(&args.workshop), Some(file.webdriver)))
}
