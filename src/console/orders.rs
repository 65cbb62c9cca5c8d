//! A workshop's orders as the console lists them: folded from its events
//! (with the views' own rules), filtered by status, time and text, newest
//! first, one page at a time.

use std::collections::HashMap;

use crate::event_log::{Event, OrderView};

/// One order in the list.
#[derive(Debug, Clone)]
pub struct OrderRow {
    /// Where it stands now, as the views fold it.
    pub view: OrderView,
    /// When it was first seen (ms since the epoch).
    pub first_ms: u64,
    /// When anything last happened to it.
    pub last_ms: u64,
}

/// Folds the events into one row per order, newest first.
pub fn fold(events: &[Event]) -> Vec<OrderRow> {
    let mut rows: Vec<OrderRow> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for event in events {
        let Some(id) = event.unique_id.as_deref() else {
            continue;
        };
        let at = *index.entry(id).or_insert_with(|| {
            rows.push(OrderRow {
                view: blank(id),
                first_ms: event.ts_ms,
                last_ms: event.ts_ms,
            });
            rows.len() - 1
        });
        let row = &mut rows[at];
        row.view.apply(event);
        row.last_ms = event.ts_ms;
    }
    rows.reverse();
    rows.sort_by_key(|r| std::cmp::Reverse(r.first_ms));
    rows
}

/// An order before its first event (as the views start one).
fn blank(unique_id: &str) -> OrderView {
    OrderView::new(unique_id)
}

/// What the list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this status (`received`, `processing`, `completed`, `bad request`, `failed`).
    pub status: Option<String>,
    /// Only orders first seen at or after this (ms).
    pub from_ms: Option<u64>,
    /// Only orders first seen before this (ms).
    pub to_ms: Option<u64>,
    /// Only orders whose unique id or case id contains this (any case).
    pub text: Option<String>,
}

impl Filter {
    /// Does this row pass?
    pub fn keeps(&self, row: &OrderRow) -> bool {
        let status_ok = self
            .status
            .as_deref()
            .is_none_or(|s| row.view.status.as_str() == s);
        let from_ok = self.from_ms.is_none_or(|from| row.first_ms >= from);
        let to_ok = self.to_ms.is_none_or(|to| row.first_ms < to);
        let text_ok = self.text.as_deref().is_none_or(|text| {
            let text = text.to_lowercase();
            let case = row
                .view
                .order
                .as_ref()
                .map(|o| o.case_id.to_lowercase())
                .unwrap_or_default();
            row.view.unique_id.to_lowercase().contains(&text) || case.contains(&text)
        });
        status_ok && from_ok && to_ok && text_ok
    }
}

/// One page of the rows that pass: (rows, how many pass in all).
pub fn page(
    rows: &[OrderRow],
    filter: &Filter,
    page: usize,
    per_page: usize,
) -> (Vec<OrderRow>, usize) {
    let kept: Vec<&OrderRow> = rows.iter().filter(|r| filter.keeps(r)).collect();
    let total = kept.len();
    let rows = kept
        .into_iter()
        .skip(page.saturating_mul(per_page))
        .take(per_page)
        .cloned()
        .collect();
    (rows, total)
}

/// Reads a time the filter form sends: `2024-05-01`, `2024-05-01T10:30`
/// (UTC) or RFC 3339; ms since the epoch.
pub fn parse_time(text: &str) -> Option<u64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let ms = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        t.timestamp_millis()
    } else if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        t.and_utc().timestamp_millis()
    } else if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        t.and_utc().timestamp_millis()
    } else {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp_millis()
    };
    u64::try_from(ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_log::{EventKind, OrderData, Status};

    fn event(seq: u64, id: &str, kind: EventKind) -> Event {
        Event {
            v: 1,
            seq,
            ts_ms: seq * 1000,
            unique_id: Some(id.into()),
            trace_id: None,
            kind,
        }
    }

    fn received(seq: u64, id: &str, case: &str) -> Event {
        let order = OrderData {
            workshop: "w".into(),
            case_id: case.into(),
            product_nr: "10".into(),
            product_amount: "1.5".into(),
            username: None,
        };
        event(
            seq,
            id,
            EventKind::Received {
                order,
                credentials_ref: None,
                span_id: None,
            },
        )
    }

    fn sample() -> Vec<Event> {
        vec![
            received(1, "a", "100"),
            received(2, "b", "200"),
            event(
                3,
                "a",
                EventKind::Processing {
                    attempt: 1,
                    may_add: true,
                },
            ),
            event(
                4,
                "a",
                EventKind::Completed {
                    attempt: 1,
                    already_present: false,
                    duration_ms: 5,
                },
            ),
            event(
                5,
                "b",
                EventKind::Processing {
                    attempt: 1,
                    may_add: true,
                },
            ),
            event(
                6,
                "b",
                EventKind::Failed {
                    reason: "unknown item: 10".into(),
                    uncharged: false,
                    failure: None,
                    is_final: true,
                    attempt: 1,
                    screenshot: None,
                    page_source: None,
                    duration_ms: 5,
                },
            ),
            received(7, "c", "100"),
        ]
    }

    #[test]
    fn orders_fold_newest_first_with_their_status() {
        let rows = fold(&sample());
        let ids: Vec<_> = rows.iter().map(|r| r.view.unique_id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
        assert_eq!(rows[1].view.status, Status::Failed);
        assert_eq!(rows[2].view.status, Status::Completed);
        assert_eq!(rows[2].last_ms, 4000);
    }

    #[test]
    fn filters_and_pages() {
        let rows = fold(&sample());
        let failed = Filter {
            status: Some("failed".into()),
            ..Filter::default()
        };
        assert_eq!(page(&rows, &failed, 0, 10).1, 1);
        let case = Filter {
            text: Some("10".into()),
            ..Filter::default()
        };
        assert_eq!(page(&rows, &case, 0, 10).1, 2);
        let time = Filter {
            from_ms: Some(2000),
            to_ms: Some(7000),
            ..Filter::default()
        };
        assert_eq!(page(&rows, &time, 0, 10).0[0].view.unique_id, "b");
        let (second, total) = page(&rows, &Filter::default(), 1, 2);
        assert_eq!((second.len(), total), (1, 3));
    }

    #[test]
    fn times_parse_in_the_forms_shapes() {
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("1970-01-01T00:01"), Some(60_000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
    }
}
