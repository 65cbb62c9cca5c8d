//! Trying an integration's credentials on the ERP's login page, saving nothing.

use crate::erp::booking::{self, Credentials};
use crate::erp::session::{BrowserConfig, BrowserSession, WebDriverEndpoint};
use crate::erp::ErpType;

/// Logs in with `creds` in a fresh browser and says whether the ERP accepted them.
pub async fn verify_login(
    erp: ErpType,
    endpoint: &WebDriverEndpoint,
    base_url: &str,
    creds: &Credentials,
) -> crate::erp::Result<()> {
    let config = BrowserConfig::new(endpoint.clone());
    let step_timeout = config.step_timeout;
    let mut session = BrowserSession::new(config);
    let result = match session.driver().await {
        Ok(browser) => booking::log_in(erp, browser, base_url, creds, step_timeout).await,
        Err(e) => Err(e),
    };
    session.close().await;
    result
}
