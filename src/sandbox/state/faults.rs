//! The fault settings of a sandbox ERP: what `GET /_sandbox/faults` shows
//! ([`Faults`]) and what `POST /_sandbox/faults` changes ([`FaultsPatch`]).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// How the whole ERP is unavailable (erp-ui.md "Common to both").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Down {
    /// Every UI request answers HTTP 503.
    #[serde(rename = "503")]
    Http503,
    /// Every UI request answers 200 with a maintenance page that has none of
    /// the UI's landmarks.
    #[serde(rename = "maintenance")]
    Maintenance,
    /// Every UI request's connection is closed without an answer.
    #[serde(rename = "close")]
    Close,
}

impl Down {
    /// Reads `"503"` (or the number 503), `"maintenance"`, `"close"`;
    /// `None` for `null` or `""` (the outage ends).
    fn from_json(value: &serde_json::Value) -> Result<Option<Down>, String> {
        match value {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::Number(n) if n.as_u64() == Some(503) => Ok(Some(Down::Http503)),
            serde_json::Value::String(s) => match s.trim() {
                "" => Ok(None),
                "503" => Ok(Some(Down::Http503)),
                "maintenance" => Ok(Some(Down::Maintenance)),
                "close" => Ok(Some(Down::Close)),
                other => Err(format!(
                    "unknown outage {other:?} (expected \"503\", \"maintenance\", \"close\" or null)"
                )),
            },
            other => Err(format!("invalid outage {other}")),
        }
    }
}

/// The current fault settings, as `GET /_sandbox/faults` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Faults {
    /// Delay of the asynchronous part of page loading.
    pub page_delay_ms: u64,
    /// Delay of item lookups.
    pub lookup_delay_ms: u64,
    /// Delay before au2office's add-line dialog appears.
    pub dialog_delay_ms: u64,
    /// The next N saves answer HTTP 500 and store nothing.
    pub fail_saves: u32,
    /// The next N saves are stored but never confirmed (the response hangs).
    pub store_without_confirm: u32,
    /// Sessions expire after this much inactivity.
    pub session_idle_ms: u64,
    /// Every UI request is held this long before it is served (a hung ERP).
    pub hang_pages_ms: u64,
    /// The next N saves are held [`Faults::slow_commit_ms`] before they are
    /// stored (a save that commits late); their answer waits as long.
    pub slow_commit_saves: u32,
    /// How long a slow commit is held.
    pub slow_commit_ms: u64,
    /// Pages re-render the case's lines every N ms with the same content as
    /// fresh elements; 0 = never.
    pub rerender_lines_ms: u64,
    /// The reference input carries `maxlength` and the ERP stores at most
    /// this many characters of a reference; `null` = no limit.
    pub reference_maxlength: Option<u32>,
    /// The whole ERP is unavailable in this way; `null` = up.
    pub down: Option<Down>,
    /// The pages of these cases never load their content (the case data,
    /// the lines frame): held without an answer (one bad case in an ERP
    /// that otherwise works).
    pub hang_cases: Vec<String>,
}

impl Faults {
    /// No faults, sessions expiring after `session_idle`.
    pub fn none(session_idle: Duration) -> Faults {
        Faults {
            page_delay_ms: 0,
            lookup_delay_ms: 0,
            dialog_delay_ms: 0,
            fail_saves: 0,
            store_without_confirm: 0,
            session_idle_ms: duration_ms(session_idle),
            hang_pages_ms: 0,
            slow_commit_saves: 0,
            slow_commit_ms: 0,
            rerender_lines_ms: 0,
            reference_maxlength: None,
            down: None,
            hang_cases: Vec::new(),
        }
    }

    /// Applies a change (the nested `slow_commit` before the flat fields).
    pub fn apply(&mut self, patch: &FaultsPatch) {
        set(&mut self.page_delay_ms, patch.page_delay_ms);
        set(&mut self.lookup_delay_ms, patch.lookup_delay_ms);
        set(&mut self.dialog_delay_ms, patch.dialog_delay_ms);
        set(&mut self.fail_saves, patch.fail_saves);
        set(&mut self.store_without_confirm, patch.store_without_confirm);
        set(&mut self.session_idle_ms, patch.session_idle_ms);
        set(&mut self.hang_pages_ms, patch.hang_pages_ms);
        if let Some(slow) = &patch.slow_commit {
            self.slow_commit_saves = slow.saves;
            self.slow_commit_ms = slow.ms;
        }
        set(&mut self.slow_commit_saves, patch.slow_commit_saves);
        set(&mut self.slow_commit_ms, patch.slow_commit_ms);
        set(&mut self.rerender_lines_ms, patch.rerender_lines_ms);
        if let Some(max) = patch.reference_maxlength {
            self.reference_maxlength = max.filter(|n| *n > 0);
        }
        set(&mut self.down, patch.down);
        if let Some(cases) = &patch.hang_cases {
            self.hang_cases.clone_from(cases);
        }
    }
}

/// Milliseconds of a duration, saturating.
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Overwrites `field` when a new value is given.
fn set<T: Copy>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// The nested form of the slow-commit fault: `{"saves": N, "secs": S}`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowCommit {
    /// How many of the next saves are held.
    pub saves: u32,
    /// How long each is held (`secs` in JSON, fractions allowed).
    #[serde(rename = "secs", deserialize_with = "secs_as_ms")]
    pub ms: u64,
}

/// A change to the faults: the body of `POST /_sandbox/faults`. Absent
/// fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    /// See [`Faults::page_delay_ms`].
    pub page_delay_ms: Option<u64>,
    /// See [`Faults::lookup_delay_ms`].
    pub lookup_delay_ms: Option<u64>,
    /// See [`Faults::dialog_delay_ms`].
    pub dialog_delay_ms: Option<u64>,
    /// See [`Faults::fail_saves`].
    pub fail_saves: Option<u32>,
    /// See [`Faults::store_without_confirm`].
    pub store_without_confirm: Option<u32>,
    /// `true`: expire every current session now.
    #[serde(default)]
    pub expire_sessions: bool,
    /// See [`Faults::session_idle_ms`].
    pub session_idle_ms: Option<u64>,
    /// See [`Faults::hang_pages_ms`].
    pub hang_pages_ms: Option<u64>,
    /// `{"saves": N, "secs": S}`: sets both slow-commit fields.
    pub slow_commit: Option<SlowCommit>,
    /// See [`Faults::slow_commit_saves`].
    pub slow_commit_saves: Option<u32>,
    /// See [`Faults::slow_commit_ms`].
    pub slow_commit_ms: Option<u64>,
    /// See [`Faults::rerender_lines_ms`].
    pub rerender_lines_ms: Option<u64>,
    /// See [`Faults::reference_maxlength`]; `null` or 0 removes the limit.
    #[serde(default, deserialize_with = "present_or_null")]
    pub reference_maxlength: Option<Option<u32>>,
    /// See [`Faults::down`]: `"503"`, `"maintenance"`, `"close"`; `null`
    /// or `""` ends the outage.
    #[serde(default, deserialize_with = "outage")]
    pub down: Option<Option<Down>>,
    /// See [`Faults::hang_cases`]; `[]` lets every case load again.
    pub hang_cases: Option<Vec<String>>,
}

/// A field that is present (`Some`), possibly `null` (`Some(None)`); an
/// absent field is `None` through `#[serde(default)]`.
fn present_or_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The `down` field, see [`Down::from_json`].
fn outage<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Down>>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Down::from_json(&value)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Seconds (a non-negative number, fractions allowed) as milliseconds.
fn secs_as_ms<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let secs = f64::deserialize(d)?;
    let duration = Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)?;
    Ok(duration_ms(duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patched(json: &str) -> Faults {
        let patch: FaultsPatch = serde_json::from_str(json).unwrap();
        let mut faults = Faults::none(Duration::from_secs(60));
        faults.apply(&patch);
        faults
    }

    #[test]
    fn slow_commit_is_set_nested_or_flat() {
        let nested = patched(r#"{"slow_commit": {"saves": 2, "secs": 1.5}}"#);
        assert_eq!((nested.slow_commit_saves, nested.slow_commit_ms), (2, 1500));
        let flat = patched(r#"{"slow_commit_saves": 1, "slow_commit_ms": 45000}"#);
        assert_eq!((flat.slow_commit_saves, flat.slow_commit_ms), (1, 45_000));
        let bad = r#"{"slow_commit": {"saves": 1, "secs": -1}}"#;
        assert!(serde_json::from_str::<FaultsPatch>(bad).is_err());
    }

    #[test]
    fn outages_start_and_end() {
        assert_eq!(patched(r#"{"down": "503"}"#).down, Some(Down::Http503));
        assert_eq!(patched(r#"{"down": 503}"#).down, Some(Down::Http503));
        assert_eq!(
            patched(r#"{"down": "maintenance"}"#).down,
            Some(Down::Maintenance)
        );
        assert_eq!(patched(r#"{"down": "close"}"#).down, Some(Down::Close));
        let mut faults = patched(r#"{"down": "close"}"#);
        faults.apply(&serde_json::from_str(r#"{"down": null}"#).unwrap());
        assert_eq!(faults.down, None);
        faults.apply(&serde_json::from_str(r#"{"down": "503"}"#).unwrap());
        faults.apply(&serde_json::from_str(r#"{"down": ""}"#).unwrap());
        assert_eq!(faults.down, None);
        assert!(serde_json::from_str::<FaultsPatch>(r#"{"down": "sometimes"}"#).is_err());
    }

    #[test]
    fn an_absent_field_keeps_its_value_and_null_or_zero_clears_the_limit() {
        let mut faults = patched(r#"{"reference_maxlength": 40, "down": "503"}"#);
        assert_eq!(faults.reference_maxlength, Some(40));
        faults.apply(&serde_json::from_str(r#"{"rerender_lines_ms": 40}"#).unwrap());
        assert_eq!(
            (faults.reference_maxlength, faults.down),
            (Some(40), Some(Down::Http503))
        );
        faults.apply(&serde_json::from_str(r#"{"reference_maxlength": null}"#).unwrap());
        assert_eq!(faults.reference_maxlength, None);
        assert_eq!(
            patched(r#"{"reference_maxlength": 0}"#).reference_maxlength,
            None
        );
    }

    #[test]
    fn faults_show_as_flat_json() {
        let shown = serde_json::to_value(patched(
            r#"{"down": "maintenance", "reference_maxlength": 40}"#,
        ))
        .unwrap();
        assert_eq!(shown["down"], "maintenance");
        assert_eq!(shown["reference_maxlength"], 40);
        assert_eq!(shown["slow_commit_saves"], 0);
        assert_eq!(shown["rerender_lines_ms"], 0);
        assert_eq!(shown["hang_cases"], serde_json::json!([]));
    }

    #[test]
    fn hung_cases_are_set_and_cleared() {
        let mut faults = patched(r#"{"hang_cases": ["400", "0401"]}"#);
        assert_eq!(faults.hang_cases, ["400", "0401"]);
        faults.apply(&serde_json::from_str(r#"{"page_delay_ms": 5}"#).unwrap());
        assert_eq!(faults.hang_cases.len(), 2);
        faults.apply(&serde_json::from_str(r#"{"hang_cases": []}"#).unwrap());
        assert!(faults.hang_cases.is_empty());
    }
}
