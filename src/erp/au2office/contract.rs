//! au2office's part of the UI contract (shared/erp-ui.md): the URLs,
//! element selectors and texts its driver relies on.

use crate::erp::login::LoginForm;
use crate::erp::waiting::LoginLandmarks;

/// How the login page is recognised.
pub const LOGIN: LoginLandmarks = LoginLandmarks {
    path: "/login",
    marker: "form#login-form",
};
/// The login page's path.
pub const LOGIN_PATH: &str = "/login";
/// The user name input.
pub const USERNAME: &str = "form#login-form input[name=username]";
/// The password input.
pub const PASSWORD: &str = "form#login-form input[name=password]";
/// The login button.
pub const LOGIN_BUTTON: &str = "button#login-button";
/// Shown once logged in (the dashboard's navigation).
pub const HOME: &str = "nav#main-nav";
/// A refused login or a server error on a page.
pub const ALERT: &str = "div.alert-danger";
/// The case view; its `data-case-id` names the case.
pub const CASE_VIEW: &str = "div#case-view";
/// Shown instead of the case view for an unknown case.
pub const CASE_NOT_FOUND: &str = "div#case-not-found";
/// The reference cell of every order line.
pub const LINE_REFERENCES: &str = "table#order-lines tr.order-line td.reference";
/// Opens the add-line dialog.
pub const ADD_LINE: &str = "button#add-line";
/// The dialog's item number input.
pub const ITEM_INPUT: &str = "div#line-dialog input#line-item-no";
/// The dialog's amount input.
pub const QTY_INPUT: &str = "input#line-qty";
/// The dialog's reference input.
pub const REFERENCE_INPUT: &str = "input#line-reference";
/// The dialog's save button.
pub const SAVE: &str = "button#line-save";
/// The looked-up item's name.
pub const ITEM_NAME: &str = "span#line-item-name";
/// An unknown item (`Ukendt varenummer`).
pub const LINE_ERROR: &str = "div.line-error";
/// A server error shown in the add-line dialog.
pub const DIALOG_ERROR: &str = "div#line-dialog div.alert-danger";
/// A save refused with a reason, in the lookup's error style (not in the
/// contract; the sandbox does it for 4xx answers).
pub const DIALOG_REFUSAL: &str = "div#line-dialog div.line-error";

/// The case page's path.
pub fn case_path(case_id: &str) -> String {
    format!("/cases/{}", crate::erp::waiting::url_component(case_id))
}

/// The login form and what follows it.
pub const LOGIN_FORM: LoginForm = LoginForm {
    path: LOGIN_PATH,
    username: USERNAME,
    password: PASSWORD,
    button: LOGIN_BUTTON,
    home: HOME,
    refused: ALERT,
};
