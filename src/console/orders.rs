//! A workshop's orders as the console lists them: rows of the workshop's
//! order index (folded from its events with the views' own rules, kept on
//! disk beside the log), filtered by status, time and text, newest first,
//! one page at a time; and the filter form's times.

pub use crate::event_log::order_index::{fold, Filter, OrderPage, OrderRow};

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

    #[test]
    fn times_parse_in_the_forms_shapes() {
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("1970-01-01T00:01"), Some(60_000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
    }
}
