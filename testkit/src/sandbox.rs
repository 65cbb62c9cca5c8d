//! A sandbox ERP process of the real binary and its control API (`/_sandbox/...`).

use serde_json::{json, Value};

use crate::proc::{client, Proc};
use crate::{PASSWORD, USER};

/// `oilmat-erp sandbox ERP --port 0`, seeded with the ERP login.
pub struct Sandbox {
    pub proc: Proc,
    pub http: reqwest::blocking::Client,
}

impl Sandbox {
    /// Starts the sandbox of `erp` (`au2office`, `admanager`) and seeds the user.
    pub fn start(erp: &str) -> Sandbox {
        let proc = Proc::oilmat(
            &["sandbox", erp, "--port", "0"],
            &[],
            &format!("sandbox-{erp}"),
        );
        let sandbox = Sandbox {
            proc,
            http: client(),
        };
        sandbox.post("users", json!({"username": USER, "password": PASSWORD}));
        sandbox
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.proc.url
    }

    /// `POST /_sandbox/WHAT`, expecting success.
    pub fn post(&self, what: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}/_sandbox/{what}", self.url()))
            .json(&body)
            .send()
            .expect("sandbox request");
        assert!(r.status().is_success(), "sandbox {what}: {}", r.status());
    }

    /// Adds a case with a status (`open`, `closed`, ...).
    pub fn case(&self, case_id: &str, status: &str) {
        self.post("cases", json!({"case_id": case_id, "status": status}));
    }

    /// Adds an item.
    pub fn item(&self, item_no: &str) {
        self.post(
            "items",
            json!({"item_no": item_no, "name": format!("Olie {item_no}")}),
        );
    }

    /// Sets the injected faults.
    pub fn faults(&self, faults: Value) {
        self.post("faults", faults);
    }

    /// The UI requests the sandbox received and still keeps, oldest first
    /// (the control API is not among them).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.http
            .get(format!("{}/_sandbox/requests", self.url()))
            .send()
            .expect("sandbox requests")
            .json::<Vec<Value>>()
            .expect("requests json")
            .iter()
            .map(SeenRequest::from_json)
            .collect()
    }

    /// The lines on a case, as the sandbox stores them.
    pub fn lines(&self, case_id: &str) -> Vec<Value> {
        self.http
            .get(format!("{}/_sandbox/cases/{case_id}/lines", self.url()))
            .send()
            .expect("sandbox lines")
            .json::<Vec<Value>>()
            .expect("lines json")
    }

    /// The references of the lines on a case.
    pub fn references(&self, case_id: &str) -> Vec<String> {
        self.lines(case_id)
            .iter()
            .filter_map(|l| l["reference"].as_str().map(str::to_string))
            .collect()
    }

    /// How many lines on the case carry the order's reference.
    pub fn lines_for(&self, case_id: &str, unique_id: &str) -> usize {
        let reference = format!("OilMat {unique_id}");
        self.references(case_id)
            .iter()
            .filter(|r| **r == reference)
            .count()
    }
}

/// One UI request as the sandbox ERP saw it (`GET /_sandbox/requests`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// Its number in the sandbox, counting from 1.
    pub seq: u64,
    /// When it arrived, ms since the Unix epoch.
    pub at_ms: u64,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The HTTP status answered; `None` when no answer was (yet) sent.
    pub status: Option<u16>,
    /// The outage it met (`"503"`, `"maintenance"`, `"close"`); `None`
    /// when the ERP was up.
    pub down: Option<String>,
}

impl SeenRequest {
    fn from_json(v: &Value) -> SeenRequest {
        SeenRequest {
            seq: v["seq"].as_u64().expect("seq"),
            at_ms: v["at_ms"].as_u64().expect("at_ms"),
            method: v["method"].as_str().expect("method").to_string(),
            path: v["path"].as_str().expect("path").to_string(),
            status: v["status"].as_u64().map(|s| s as u16),
            down: v["down"].as_str().map(str::to_string),
        }
    }
}

/// The path of the login page of `erp` (erp-ui.md).
pub fn login_path(erp: &str) -> &'static str {
    match erp {
        "au2office" => "/login",
        "admanager" => "/Account/Login",
        other => panic!("unknown ERP type {other}"),
    }
}

/// The path of a save (a line added) of `erp` (erp-ui.md).
pub fn save_path(erp: &str) -> &'static str {
    match erp {
        "au2office" => "/api/case/lines",
        "admanager" => "/WorkOrder/Lines",
        other => panic!("unknown ERP type {other}"),
    }
}

/// An au2office sandbox with the user, case 558 and item 10.
pub fn seeded_sandbox() -> Sandbox {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("558", "open");
    sandbox.item("10");
    sandbox
}
