//! Logging in through a login form: the same steps on every ERP type, with
//! each type's own elements (its `contract.rs` names them).

use super::booking::Credentials;
use super::error::{Failure, Result};
use super::ui::ErpPage;
use super::waiting::{click, css, fill, Cond};

/// The elements of an ERP's login page and of what follows it.
#[derive(Debug, Clone, Copy)]
pub struct LoginForm {
    /// The login page's path.
    pub path: &'static str,
    /// The user name input.
    pub username: &'static str,
    /// The password input.
    pub password: &'static str,
    /// The button that logs in.
    pub button: &'static str,
    /// Shown once logged in (the home page).
    pub home: &'static str,
    /// Shown when the ERP refuses the login.
    pub refused: &'static str,
}

/// Opens the login page and logs in with `creds` (or finds the session
/// still logged in); a refused login is `login failed`.
pub async fn log_in_with(page: &ErpPage<'_>, form: &LoginForm, creds: &Credentials) -> Result<()> {
    let driver = page.driver;
    page.goto(form.path, "login").await?;
    let shown = [
        Cond::Shown(css(form.username)),
        Cond::Present(css(form.home)),
    ];
    if page.wait(&shown, None, "login").await? == Some(1) {
        return Ok(());
    }
    fill(driver, css(form.username), &creds.username).await?;
    fill(driver, css(form.password), &creds.password).await?;
    click(driver, css(form.button), "login").await?;
    let outcome = [
        Cond::Present(css(form.home)),
        Cond::HasText(css(form.refused)),
    ];
    match page.wait(&outcome, None, "login").await? {
        Some(0) => Ok(()),
        _ => Err(Failure::login_failed()),
    }
}
