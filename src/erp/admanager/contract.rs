//! admanager's part of the UI contract (shared/erp-ui.md): the URLs,
//! element selectors and texts its driver relies on.

use crate::erp::login::LoginForm;
use crate::erp::waiting::LoginLandmarks;

/// How the login page is recognised (also inside the lines frame).
pub const LOGIN: LoginLandmarks = LoginLandmarks {
    path: "/Account/Login",
    marker: "input#btnLogin",
};
/// The login page's path.
pub const LOGIN_PATH: &str = "/Account/Login";
/// The user name input.
pub const USERNAME: &str = "input#UserName";
/// The password input.
pub const PASSWORD: &str = "input#Password";
/// The login button.
pub const LOGIN_BUTTON: &str = "input#btnLogin";
/// Shown once logged in (the home page's menu).
pub const HOME: &str = "div#menu";
/// A refused login.
pub const LOGIN_ERROR: &str = "span.validation-summary-errors";
/// The frame that holds the lines.
pub const LINES_FRAME: &str = "iframe#linesFrame";
/// The lines table inside the frame.
pub const LINES_TABLE: &str = "table#gridLines";
/// The note (reference) cell of every line.
pub const LINE_NOTES: &str = "table#gridLines tr.line td.note";
/// The item number input.
pub const ITEM_INPUT: &str = "input#txtVareNr";
/// The amount input.
pub const QTY_INPUT: &str = "input#txtAntal";
/// The note (reference) input.
pub const NOTE_INPUT: &str = "input#txtNote";
/// The add button; absent on a locked case.
pub const ADD_BUTTON: &str = "input#btnTilfoej";
/// The looked-up item's name.
pub const ITEM_NAME: &str = "span#lblVareNavn";
/// Says the case is invoiced.
pub const LOCKED: &str = "div#locked";
/// A refusal shown on the page or in the frame after a post.
pub const VALIDATION_ERROR: &str = "span.field-validation-error";

/// The work order page's path.
pub fn case_path(case_id: &str) -> String {
    format!(
        "/WorkOrder/Edit?id={}",
        crate::erp::waiting::url_component(case_id)
    )
}

/// The login form and what follows it.
pub const LOGIN_FORM: LoginForm = LoginForm {
    path: LOGIN_PATH,
    username: USERNAME,
    password: PASSWORD,
    button: LOGIN_BUTTON,
    home: HOME,
    refused: LOGIN_ERROR,
};
