//! The integration host (`oilmat-erp serve`): runs every active workshop
//! integration, each with its own actor tree on its own arbiter and its own
//! HTTP API port, and lets the management API create, change, start, stop and
//! delete them. A workshop that cannot start is reported and skipped.

mod overview;
pub mod state;
mod validate;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};

use crate::config::IntegrationConfig;
use crate::erp::WebDriverEndpoint;
use crate::http::{self, AdminToken, ApiState, KillSwitch};
use crate::secrets::Cipher;
use crate::workshop::{self, Workshop, WorkshopSettings};
pub use overview::{Overview, QueueSizes};
use state::HostState;
pub use validate::{validate, ValidIntegration};

/// One integration the host knows.
struct Integration {
    config: IntegrationConfig,
    workshop: Option<Workshop>,
    api: Option<actix_web::dev::ServerHandle>,
    last_error: Option<String>,
}

/// What can go wrong with a management request.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// 404.
    #[error("no integration named {0:?}")]
    NotFound(String),
    /// 400.
    #[error("{0}")]
    Invalid(String),
    /// 503.
    #[error("{0}")]
    Unavailable(String),
}

struct Inner {
    data_dir: PathBuf,
    endpoint: WebDriverEndpoint,
    cipher: Cipher,
    admin: AdminToken,
    file: BTreeMap<String, IntegrationConfig>,
    state: HostState,
    integrations: BTreeMap<String, Integration>,
    kill_tx: mpsc::UnboundedSender<String>,
}

/// The integration host; cheap to clone.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Mutex<Inner>>,
}

/// The host's settings from the config file.
pub struct HostSettings {
    /// The data dir.
    pub data_dir: PathBuf,
    /// Where browsers are.
    pub endpoint: WebDriverEndpoint,
    /// The file's workshops.
    pub file: BTreeMap<String, IntegrationConfig>,
    /// The admin token for the workshops' control endpoints.
    pub admin: AdminToken,
}

impl Host {
    /// A host with no integration started yet; `/kill` requests arrive on the receiver.
    pub fn new(
        settings: HostSettings,
        cipher: Cipher,
    ) -> anyhow::Result<(Host, mpsc::UnboundedReceiver<String>)> {
        let state = HostState::load(&settings.data_dir, &cipher)?;
        let (kill_tx, kill_rx) = mpsc::unbounded_channel();
        let inner = Inner {
            data_dir: settings.data_dir,
            endpoint: settings.endpoint,
            cipher,
            admin: settings.admin,
            file: settings.file,
            state,
            integrations: BTreeMap::new(),
            kill_tx,
        };
        Ok((
            Host {
                inner: Arc::new(Mutex::new(inner)),
            },
            kill_rx,
        ))
    }

    /// Starts every active integration; failures are reported and skipped.
    pub async fn start_all(&self) {
        let mut inner = self.inner.lock().await;
        let effective = inner.state.effective(&inner.file);
        for (name, config) in effective {
            inner.integrations.insert(
                name.clone(),
                Integration {
                    config,
                    workshop: None,
                    api: None,
                    last_error: None,
                },
            );
            if let Err(e) = inner.start(&name) {
                tracing::error!(workshop = %name, error = %e, "integration not started; the others run");
            }
        }
    }

    /// The configuration of every integration that runs (the file's with
    /// the API's changes).
    pub async fn configs(&self) -> BTreeMap<String, IntegrationConfig> {
        let inner = self.inner.lock().await;
        inner
            .integrations
            .iter()
            .filter(|(_, i)| i.workshop.is_some())
            .map(|(name, i)| (name.clone(), i.config.clone()))
            .collect()
    }

    /// Stops every integration (orders in progress are put back).
    pub async fn stop_all(&self) {
        let mut inner = self.inner.lock().await;
        let names: Vec<String> = inner.integrations.keys().cloned().collect();
        for name in names {
            inner.stop(&name).await;
        }
    }

    /// Stops one integration (its `/kill`).
    pub async fn stop(&self, name: &str) -> Result<(), HostError> {
        let mut inner = self.inner.lock().await;
        inner.get(name)?;
        inner.stop(name).await;
        Ok(())
    }

    /// The health overview of every integration: each workshop asked at
    /// once, without the host's lock held; one that does not answer within
    /// [`overview::ANSWER_WITHIN`] is listed as unresponsive.
    pub async fn overview(&self) -> Vec<serde_json::Value> {
        let seen: Vec<overview::Seen> = {
            let inner = self.inner.lock().await;
            inner
                .integrations
                .iter()
                .map(|(name, i)| overview::Seen::of(name, i))
                .collect()
        };
        futures_util::future::join_all(seen.into_iter().map(overview::Seen::answer)).await
    }

    /// One integration's overview and configuration (without secrets).
    pub async fn describe(&self, name: &str) -> Result<serde_json::Value, HostError> {
        let (seen, c) = {
            let inner = self.inner.lock().await;
            let integration = inner.get(name)?;
            (
                overview::Seen::of(name, integration),
                integration.config.clone(),
            )
        };
        let mut value = seen.answer().await;
        let t = c.tuning();
        value["config"] = serde_json::json!({
            "erp_type": c.erp_type, "erp_url": c.erp_url, "port": c.port, "username": c.username,
            "listen": validate::listen_address(&c), "allow_anonymous_create": c.allow_anonymous_create.unwrap_or(false),
            "active": c.active.unwrap_or(true), "password_set": c.password.is_some() || c.password_env.is_some(),
            "api_key_set": c.api_key.is_some(),
            "probe_case": c.probe_case, "probe_interval_secs": c.probe_interval_secs.unwrap_or(0),
            "retry": t.retry, "timeouts": t.timeouts, "browser": t.browser, "evidence": t.evidence,
        });
        Ok(value)
    }

    /// Creates or changes an integration and (re)starts it; a refused change leaves the running one alone.
    pub async fn put(&self, name: &str, change: IntegrationConfig) -> Result<bool, HostError> {
        let mut inner = self.inner.lock().await;
        let created = !inner.integrations.contains_key(name);
        let old = inner
            .integrations
            .get(name)
            .map(|i| i.config.clone())
            .unwrap_or_default();
        validate::check_api_change(&old, &change).map_err(HostError::Invalid)?;
        let merged = old.merged(&change);
        let valid = validate(name, &merged).map_err(HostError::Invalid)?;
        inner.check_port_free(name, valid.port)?;
        inner.stop(name).await;
        inner.integrations.insert(
            name.to_string(),
            Integration {
                config: merged.clone(),
                workshop: None,
                api: None,
                last_error: None,
            },
        );
        if let Err(e) = inner.start(name) {
            // Put the previous configuration back, running as before.
            inner.integrations.insert(
                name.to_string(),
                Integration {
                    config: old.clone(),
                    workshop: None,
                    api: None,
                    last_error: None,
                },
            );
            if created {
                inner.integrations.remove(name);
            } else if let Err(again) = inner.start(name) {
                tracing::error!(workshop = %name, error = %again, "previous configuration did not restart either");
            }
            return Err(HostError::Invalid(format!("not applied: {e}")));
        }
        inner.state.integrations.insert(name.to_string(), merged);
        inner.state.deleted.remove(name);
        inner.save()?;
        Ok(created)
    }

    /// Tries a configuration's credentials on the ERP's login page, saving nothing.
    pub async fn verify(&self, name: &str, change: &IntegrationConfig) -> Result<(), HostError> {
        let (config, endpoint) = {
            let inner = self.inner.lock().await;
            let old = inner
                .integrations
                .get(name)
                .map(|i| i.config.clone())
                .unwrap_or_default();
            validate::check_api_change(&old, change).map_err(HostError::Invalid)?;
            (old.merged(change), inner.endpoint.clone())
        };
        let valid = validate(name, &config).map_err(HostError::Invalid)?;
        workshop::verify_login(
            valid.erp_type,
            &endpoint,
            crate::config::base_url(&valid.erp_url),
            &valid.credentials,
        )
        .await
        .map_err(|e| HostError::Invalid(format!("credentials not verified: {e}")))
    }

    /// Stops and forgets an integration; its log stays on disk.
    pub async fn delete(&self, name: &str) -> Result<(), HostError> {
        let mut inner = self.inner.lock().await;
        inner.get(name)?;
        inner.stop(name).await;
        inner.integrations.remove(name);
        inner.state.integrations.remove(name);
        inner.state.deleted.insert(name.to_string());
        inner.save()
    }

    /// Starts or stops an integration's HTTP API.
    pub async fn set_api(&self, name: &str, run: bool) -> Result<(), HostError> {
        let mut inner = self.inner.lock().await;
        inner.get(name)?;
        if run {
            if inner
                .integrations
                .get(name)
                .is_some_and(|i| i.workshop.is_none())
            {
                return inner.start(name).map_err(HostError::Unavailable);
            }
            inner.start_api(name).map_err(HostError::Unavailable)
        } else {
            if let Some(api) = inner.integrations.get_mut(name).and_then(|i| i.api.take()) {
                api.stop(true).await;
            }
            Ok(())
        }
    }

    /// A running integration's workshop (for worker, requeue and events requests).
    pub async fn workshop(&self, name: &str) -> Result<Workshop, HostError> {
        let inner = self.inner.lock().await;
        inner
            .get(name)?
            .workshop
            .clone()
            .ok_or_else(|| HostError::Unavailable(format!("integration {name:?} is not running")))
    }

    /// Every running workshop.
    pub async fn workshops(&self) -> Vec<Workshop> {
        let inner = self.inner.lock().await;
        inner
            .integrations
            .values()
            .filter_map(|i| i.workshop.clone())
            .collect()
    }
}

impl Inner {
    fn get(&self, name: &str) -> Result<&Integration, HostError> {
        self.integrations
            .get(name)
            .ok_or_else(|| HostError::NotFound(name.to_string()))
    }

    fn save(&self) -> Result<(), HostError> {
        self.state
            .save(&self.data_dir, &self.cipher)
            .map_err(|e| HostError::Unavailable(format!("cannot keep the change: {e:#}")))
    }

    fn check_port_free(&self, name: &str, port: u16) -> Result<(), HostError> {
        let clash = self
            .integrations
            .iter()
            .find(|(n, i)| n.as_str() != name && i.config.port == Some(port));
        match clash {
            Some((other, _)) => Err(HostError::Invalid(format!(
                "port {port} is already used by integration {other:?}"
            ))),
            None => Ok(()),
        }
    }

    /// Starts the workshop and its API if the integration is active.
    fn start(&mut self, name: &str) -> Result<(), String> {
        let integration = self
            .integrations
            .get_mut(name)
            .ok_or("unknown integration")?;
        let result = start_workshop(
            name,
            integration,
            &self.data_dir,
            &self.endpoint,
            &self.cipher,
        );
        integration.last_error = result.as_ref().err().cloned();
        match result? {
            Some(listener) => self.serve_api(name, listener),
            None => Ok(()),
        }
    }

    /// Starts the HTTP API of a running integration (`api/start`).
    fn start_api(&mut self, name: &str) -> Result<(), String> {
        let integration = self.integrations.get(name).ok_or("unknown integration")?;
        if integration.api.is_some() {
            return Ok(());
        }
        let port = integration.config.port.ok_or("no port configured")?;
        let listener = bind_api(validate::listen_address(&integration.config), port)?;
        self.serve_api(name, listener)
    }

    fn serve_api(&mut self, name: &str, listener: TcpListener) -> Result<(), String> {
        let kill_tx = self.kill_tx.clone();
        let admin = self.admin.clone();
        let integration = self
            .integrations
            .get_mut(name)
            .ok_or("unknown integration")?;
        let Some(ws) = integration.workshop.clone() else {
            return Err("integration is not running".into());
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let owner = name.to_string();
        let kill: KillSwitch = Arc::new(move || {
            let _ = kill_tx.send(owner.clone());
        });
        let server = http::serve(
            ApiState {
                workshop: ws,
                admin,
                kill,
            },
            listener,
        )
        .map_err(|e| e.to_string())?;
        integration.api = Some(server.handle());
        actix_rt::spawn(server);
        tracing::info!(workshop = %name, port, "workshop API listening");
        Ok(())
    }

    async fn stop(&mut self, name: &str) {
        let Some(integration) = self.integrations.get_mut(name) else {
            return;
        };
        if let Some(api) = integration.api.take() {
            api.stop(true).await;
        }
        if let Some(ws) = integration.workshop.take() {
            ws.shutdown().await;
        }
    }
}

/// Listens on a workshop API's address and port (`listen`, default all interfaces: OilMat posts there).
fn bind_api(listen: std::net::IpAddr, port: u16) -> Result<TcpListener, String> {
    TcpListener::bind((listen, port))
        .map_err(|e| format!("cannot listen on {listen} port {port}: {e}"))
}

/// Starts an active integration's workshop, its API port taken first so a
/// busy port starts nothing; the listener for its API.
fn start_workshop(
    name: &str,
    integration: &mut Integration,
    data_dir: &std::path::Path,
    endpoint: &WebDriverEndpoint,
    cipher: &Cipher,
) -> Result<Option<TcpListener>, String> {
    let valid = validate(name, &integration.config)?;
    if !valid.active {
        return Ok(None);
    }
    let listener = bind_api(valid.listen, valid.port)?;
    if valid.anonymous_create {
        tracing::warn!(workshop = %name, listen = %valid.listen, "allow_anonymous_create = true: anyone who reaches this address can book orders with the integration's login");
    }
    let mut settings = WorkshopSettings::new(
        name.to_string(),
        valid.erp_type,
        &valid.erp_url,
        endpoint.clone(),
        data_dir.to_path_buf(),
        &valid.tuning,
    );
    if let (Some(case_id), Some(interval)) = (valid.probe_case, valid.probe_interval) {
        settings.probe = Some(workshop::ProbeSettings {
            case_id,
            interval,
            credentials: valid.credentials.clone(),
        });
    }
    settings.credentials = Some(valid.credentials);
    settings.api_key = valid.api_key;
    let ws = workshop::start(settings, cipher.clone()).map_err(|e| e.to_string())?;
    integration.workshop = Some(ws);
    Ok(Some(listener))
}
