//! A workshop's ERP outages for its console page, from its log's
//! `integration down` and `integration up` events: the fault, whom it
//! concerned (the whole ERP or one login), since, until and how long.

use std::collections::BTreeMap;

use maud::{html, Markup};

use crate::event_log::{Event, EventKind};
use crate::support::timestamp;

/// Outages shown at most (the newest).
pub const SHOWN: usize = 20;

/// One outage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// The fault, as support should read it.
    pub fault: String,
    /// The refused login it concerned; `None`: the whole ERP.
    pub login: Option<String>,
    /// When the faults began (ms since the epoch).
    pub since_ms: u64,
    /// When the ERP (or that login) worked again; `None`: still down.
    pub until_ms: Option<u64>,
}

/// The outages in `events` (a workshop's log, in order), newest first, at most [`SHOWN`].
pub fn outages<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<Outage> {
    let mut open: BTreeMap<Option<String>, Outage> = BTreeMap::new();
    let mut done: Vec<Outage> = Vec::new();
    for event in events {
        match &event.kind {
            EventKind::IntegrationDown {
                fault,
                since_ms,
                login,
            } => {
                let outage = open.entry(login.clone()).or_insert_with(|| Outage {
                    fault: fault.clone(),
                    login: login.clone(),
                    since_ms: *since_ms,
                    until_ms: None,
                });
                // The same outage, seen again: its latest fault, its first start.
                outage.fault = fault.clone();
                outage.since_ms = outage.since_ms.min(*since_ms);
            }
            EventKind::IntegrationUp { login } => {
                if let Some(mut outage) = open.remove(login) {
                    outage.until_ms = Some(event.ts_ms);
                    done.push(outage);
                }
            }
            _ => {}
        }
    }
    done.extend(open.into_values());
    done.sort_by_key(|o| std::cmp::Reverse(o.since_ms));
    done.truncate(SHOWN);
    done
}

/// A duration for people: `42 s`, `3 min 05 s`, `2 h 07 min`, `3 d 4 h`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The "Outages" section of a workshop's page.
pub fn section(outages: &[Outage], now_ms: u64) -> Markup {
    html! {
        h2 #outages { "Outages" }
        @if outages.is_empty() {
            p.muted { "None recorded: the ERP has answered every time." }
        } @else {
            table aria-labelledby="outages" {
                thead { tr {
                    th scope="col" { "Fault" } th scope="col" { "Concerns" } th scope="col" { "Since (UTC)" }
                    th scope="col" { "Until (UTC)" } th scope="col" { "Duration" }
                } }
                tbody {
                    @for o in outages {
                        tr {
                            td { (o.fault) }
                            td {
                                @match &o.login {
                                    Some(login) => { "login " code { (login) } }
                                    None => { "the whole ERP" }
                                }
                            }
                            td { (timestamp(o.since_ms)) }
                            @match o.until_ms {
                                Some(until) => { td { (timestamp(until)) } }
                                None => { td.state-down { "still down" } }
                            }
                            td.num {
                                (duration(o.until_ms.unwrap_or(now_ms).saturating_sub(o.since_ms)))
                                @if o.until_ms.is_none() { " so far" }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts_ms: u64, kind: EventKind) -> Event {
        Event {
            v: 1,
            seq: ts_ms,
            ts_ms,
            unique_id: None,
            trace_id: None,
            kind,
        }
    }

    fn down(ts: u64, fault: &str, login: Option<&str>) -> Event {
        event(
            ts,
            EventKind::IntegrationDown {
                fault: fault.into(),
                since_ms: ts - 5,
                login: login.map(str::to_string),
            },
        )
    }

    fn up(ts: u64, login: Option<&str>) -> Event {
        event(
            ts,
            EventKind::IntegrationUp {
                login: login.map(str::to_string),
            },
        )
    }

    #[test]
    fn outages_are_paired_newest_first() {
        let events = vec![
            down(100, "ERP unreachable", None),
            down(150, "ERP shows no UI", None),
            down(160, "login refused", Some("anna")),
            up(200, None),
            down(300, "ERP unreachable", None),
        ];
        let list = outages(&events);
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].since_ms, 295);
        assert_eq!(list[0].until_ms, None);
        assert_eq!(list[1].login.as_deref(), Some("anna"));
        assert_eq!(list[1].until_ms, None);
        assert_eq!(list[2].fault, "ERP shows no UI");
        assert_eq!((list[2].since_ms, list[2].until_ms), (95, Some(200)));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(42_000), "42 s");
        assert_eq!(duration(185_000), "3 min 05 s");
        assert_eq!(duration(7_620_000), "2 h 07 min");
        assert_eq!(duration(273_600_000), "3 d 4 h");
    }
}
