//! The synthetic check: log in afresh and open a probe case without saving
//! anything, timing each step, so a changed ERP UI or an expired password
//! shows before real orders fail. Used by `oilmat-erp check` (a fresh
//! browser) and by a workshop's periodic probe (the worker's browser).

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use super::booking::{self, Credentials};
use super::error::{Failure, Result};
use super::session::{BrowserConfig, BrowserSession, WebDriverEndpoint};
use super::ErpType;
use crate::order::FailureKind;

/// One step of a probe and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStep {
    /// What was done: `start browser`, `login`, `open case`, `open lines`.
    pub name: String,
    /// Why it failed; `None` when it worked.
    pub error: Option<String>,
    /// A remark on a step that worked (e.g. that it ended on the login page).
    pub note: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// The steps of one probe so far.
#[derive(Debug, Default)]
pub struct ProbeSteps(Vec<ProbeStep>);

impl ProbeSteps {
    /// Runs `work` as the step `name`, recording its result and duration.
    pub async fn run<T>(&mut self, name: &str, work: impl Future<Output = Result<T>>) -> Result<T> {
        let started = Instant::now();
        let result = work.await;
        self.0.push(ProbeStep {
            name: name.to_string(),
            error: result.as_ref().err().map(|e| e.reason().to_string()),
            note: None,
            duration: started.elapsed(),
        });
        result
    }

    /// Adds a remark to the last step.
    pub fn note_last(&mut self, note: &str) {
        if let Some(step) = self.0.last_mut() {
            step.note = Some(note.to_string());
        }
    }
}

/// What a probe did and whether the ERP looked as the UI contract says.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// Every step, in order.
    pub steps: Vec<ProbeStep>,
    /// `Ok` when it logged in and the case showed; else why not.
    pub result: Result<()>,
    /// How long the whole probe took.
    pub duration: Duration,
}

impl ProbeReport {
    /// True when the probe logged in and the case showed.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

impl fmt::Display for ProbeReport {
    /// One line per step (result, milliseconds, error or remark), then the verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            let (word, text) = match (&step.error, &step.note) {
                (Some(error), _) => ("FAILED", format!("  {error}")),
                (None, Some(note)) => ("ok", format!("  ({note})")),
                (None, None) => ("ok", String::new()),
            };
            let ms = step.duration.as_millis();
            writeln!(f, "  {word:<6} {:<14} {ms:>6} ms{text}", step.name)?;
        }
        let ms = self.duration.as_millis();
        match &self.result {
            Ok(()) => write!(
                f,
                "OK: logged in and opened the probe case in {ms} ms (nothing saved)"
            ),
            Err(e) => write!(f, "FAILED after {ms} ms: {}", e.reason()),
        }
    }
}

/// What to probe: which ERP, where, as whom, which case.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// The ERP type.
    pub erp: ErpType,
    /// The ERP's base URL.
    pub base_url: String,
    /// The login to try.
    pub creds: Credentials,
    /// The case to open (never changed).
    pub case_id: String,
    /// Deadline of each step.
    pub step_timeout: Duration,
}

/// Runs the probe in `session`'s browser (started if need be), all of it
/// within `deadline`.
pub async fn run_probe(
    session: &mut BrowserSession,
    target: &ProbeTarget,
    deadline: Duration,
) -> ProbeReport {
    let started = Instant::now();
    let mut steps = ProbeSteps::default();
    let work = async {
        let browser = steps.run("start browser", session.driver()).await?;
        booking::probe_case(
            target.erp,
            browser,
            &target.base_url,
            &target.creds,
            &target.case_id,
            target.step_timeout,
            &mut steps,
        )
        .await
    };
    let result = tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(Failure::new(
                FailureKind::Timeout,
                format!(
                    "timeout: the probe took longer than {} s",
                    deadline.as_secs()
                ),
            ))
        });
    ProbeReport {
        steps: steps.0,
        result,
        duration: started.elapsed(),
    }
}

/// The probe in a fresh browser of its own, closed afterwards (`oilmat-erp check`).
pub async fn check(endpoint: &WebDriverEndpoint, target: &ProbeTarget) -> ProbeReport {
    let mut config = BrowserConfig::new(endpoint.clone());
    config.step_timeout = target.step_timeout;
    config.page_load_timeout = target.step_timeout;
    let mut session = BrowserSession::new(config);
    // Browser start, login, case and lines, each within a step timeout, plus slack.
    let deadline = target.step_timeout * 6 + Duration::from_secs(30);
    let report = run_probe(&mut session, target, deadline).await;
    session.close().await;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_prints_a_line_per_step_and_a_verdict() {
        let report = ProbeReport {
            steps: vec![
                ProbeStep {
                    name: "login".into(),
                    error: None,
                    note: None,
                    duration: Duration::from_millis(120),
                },
                ProbeStep {
                    name: "open case".into(),
                    error: Some("unknown case: Sagen findes ikke".into()),
                    note: None,
                    duration: Duration::from_millis(7),
                },
            ],
            result: Err(Failure::new(
                FailureKind::UnknownCase,
                "probe case \"9\" does not exist",
            )),
            duration: Duration::from_millis(130),
        };
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].contains("ok") && lines[0].contains("login") && lines[0].contains("120 ms")
        );
        assert!(lines[1].contains("FAILED") && lines[1].contains("Sagen findes ikke"));
        assert!(lines[2].starts_with("FAILED after 130 ms: probe case"));
        assert!(!report.is_ok());
    }
}
