//! The in-memory data of one sandbox ERP: users, cases with their order
//! lines, items, login sessions and the fault settings. Plain data and rules,
//! no I/O and no HTTP, so it is tested without a server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize, Serializer};

/// Whether lines may still be added to a case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    /// Lines can be added.
    #[default]
    Open,
    /// Invoiced / locked: no lines can be added.
    Closed,
}

impl CaseStatus {
    /// The lowercase name used in pages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Closed => "closed",
        }
    }
}

/// A quantity in litres, as the ERPs read and show it (decimal comma).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Qty(f64);

impl Qty {
    /// Reads an amount the way the ERPs do: `,` is the decimal separator and
    /// `.` a thousands separator (so `"4.5"` is 45). `None` when not a
    /// positive number.
    pub fn parse(text: &str) -> Option<Qty> {
        let text = text.trim();
        let (int_part, frac_part) = match text.split_once(',') {
            Some((int, frac)) => (int, Some(frac)),
            None => (text, None),
        };
        let int_digits: String = int_part.chars().filter(|c| *c != '.').collect();
        if !all_digits(&int_digits) || frac_part.is_some_and(|f| !all_digits(f)) {
            return None;
        }
        let number = format!("{int_digits}.{}", frac_part.unwrap_or("0"));
        let value: f64 = number.parse().ok()?;
        (value.is_finite() && value > 0.0).then_some(Qty(value))
    }

    /// The amount as the ERP shows it: `4,5`, `5`.
    pub fn display(self) -> String {
        self.0.to_string().replace('.', ",")
    }

    /// The amount as a plain number.
    pub fn value(self) -> f64 {
        self.0
    }
}

/// Non-empty and only ASCII digits.
fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl Serialize for Qty {
    /// A JSON number: an integer when whole (`5`), else a float (`4.5`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        if self.0.fract() == 0.0 && self.0.abs() < EXACT {
            // Whole and within f64's exact integer range: the cast is lossless.
            serializer.serialize_i64(self.0 as i64)
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

/// One order line on a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// The item number, as typed (leading zeros kept).
    pub item_no: String,
    /// The amount in litres.
    pub qty: Qty,
    /// Free text; OilMat writes `OilMat <unique_id>` here.
    pub reference: String,
}

/// A case (work order) with its lines in order of creation.
#[derive(Debug, Clone, Default)]
pub struct Case {
    /// Open or closed.
    pub status: CaseStatus,
    /// The order lines.
    pub lines: Vec<Line>,
}

/// A user that can log in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    /// Login name.
    pub username: String,
    /// Password, compared as is.
    pub password: String,
}

/// A case to create, or whose status to change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSeed {
    /// Case id (a string; leading zeros significant).
    pub case_id: String,
    /// `open` (the default) or `closed`.
    #[serde(default)]
    pub status: CaseStatus,
}

/// An item the ERP knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSeed {
    /// Item number (a string; leading zeros significant).
    pub item_no: String,
    /// Item name shown by the lookup.
    pub name: String,
}

/// The seed data file: `{"users":[..],"cases":[..],"items":[..]}`, each optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Users to create.
    #[serde(default)]
    pub users: Vec<UserSeed>,
    /// Cases to create.
    #[serde(default)]
    pub cases: Vec<CaseSeed>,
    /// Items to create.
    #[serde(default)]
    pub items: Vec<ItemSeed>,
}

/// Seed data the sandbox refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    /// A required text field was empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
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
        }
    }
}

/// Milliseconds of a duration, saturating.
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A change to the faults: the body of `POST /_sandbox/faults`.
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
}

/// A line as typed into the ERP's form, before it is checked.
#[derive(Debug, Clone, Copy)]
pub struct NewLine<'a> {
    /// Item number field.
    pub item_no: &'a str,
    /// Amount field, as typed.
    pub qty: &'a str,
    /// Reference / note field.
    pub reference: &'a str,
}

/// What a save did when it was not refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    /// Stored; the page shows the line.
    Confirmed(Line),
    /// Stored, but the response must never confirm it.
    Unconfirmed,
}

/// Why a save stored nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// No case with that id.
    #[error("unknown case")]
    UnknownCase,
    /// The case is closed / invoiced.
    #[error("case is closed")]
    CaseClosed,
    /// No item with that number.
    #[error("unknown item")]
    UnknownItem,
    /// The amount is not a positive number.
    #[error("invalid amount")]
    BadQty,
    /// The `fail_saves` fault: the ERP answers with a server error.
    #[error("injected server error")]
    InjectedFailure,
}

/// One logged-in browser.
#[derive(Debug, Clone)]
struct Session {
    last_seen: Instant,
}

/// Everything one sandbox ERP knows.
#[derive(Debug)]
pub struct State {
    users: HashMap<String, String>,
    cases: HashMap<String, Case>,
    items: HashMap<String, String>,
    sessions: HashMap<String, Session>,
    faults: Faults,
    default_session_idle: Duration,
}

impl State {
    /// An empty ERP whose sessions expire after `session_idle` by default.
    pub fn new(session_idle: Duration) -> State {
        State {
            users: HashMap::new(),
            cases: HashMap::new(),
            items: HashMap::new(),
            sessions: HashMap::new(),
            faults: Faults::none(session_idle),
            default_session_idle: session_idle,
        }
    }

    /// Adds all of `seed`; stops at the first invalid entry.
    pub fn apply_seed(&mut self, seed: Seed) -> Result<(), SeedError> {
        seed.users
            .into_iter()
            .try_for_each(|u| self.upsert_user(u))?;
        seed.cases
            .into_iter()
            .try_for_each(|c| self.upsert_case(c))?;
        seed.items.into_iter().try_for_each(|i| self.upsert_item(i))
    }

    /// Creates a user or changes its password.
    pub fn upsert_user(&mut self, user: UserSeed) -> Result<(), SeedError> {
        non_empty("username", &user.username)?;
        self.users.insert(user.username, user.password);
        Ok(())
    }

    /// Creates a case, or changes the status of an existing one (keeping its lines).
    pub fn upsert_case(&mut self, case: CaseSeed) -> Result<(), SeedError> {
        non_empty("case_id", &case.case_id)?;
        self.cases.entry(case.case_id).or_default().status = case.status;
        Ok(())
    }

    /// Creates an item or renames it.
    pub fn upsert_item(&mut self, item: ItemSeed) -> Result<(), SeedError> {
        non_empty("item_no", &item.item_no)?;
        non_empty("name", &item.name)?;
        self.items.insert(item.item_no, item.name);
        Ok(())
    }

    /// The case with this exact id.
    pub fn case(&self, case_id: &str) -> Option<&Case> {
        self.cases.get(case_id)
    }

    /// The name of the item with this number (surrounding blanks ignored).
    pub fn item_name(&self, item_no: &str) -> Option<&str> {
        self.items.get(item_no.trim()).map(String::as_str)
    }

    /// The current fault settings.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Applies a fault change; returns the new settings.
    pub fn patch_faults(&mut self, patch: FaultsPatch) -> Faults {
        let f = &mut self.faults;
        set(&mut f.page_delay_ms, patch.page_delay_ms);
        set(&mut f.lookup_delay_ms, patch.lookup_delay_ms);
        set(&mut f.dialog_delay_ms, patch.dialog_delay_ms);
        set(&mut f.fail_saves, patch.fail_saves);
        set(&mut f.store_without_confirm, patch.store_without_confirm);
        set(&mut f.session_idle_ms, patch.session_idle_ms);
        set(&mut f.hang_pages_ms, patch.hang_pages_ms);
        if patch.expire_sessions {
            self.sessions.clear();
        }
        self.faults.clone()
    }

    /// Clears every fault (the idle timeout goes back to the default).
    pub fn reset_faults(&mut self) -> Faults {
        self.faults = Faults::none(self.default_session_idle);
        self.faults.clone()
    }

    /// Checks the credentials; on success opens a session and returns its token.
    pub fn login(&mut self, username: &str, password: &str, now: Instant) -> Option<String> {
        let ok = self.users.get(username).is_some_and(|p| p == password);
        if !ok {
            return None;
        }
        let idle = self.session_idle();
        self.sessions
            .retain(|_, s| now.saturating_duration_since(s.last_seen) <= idle);
        let token = new_token();
        self.sessions
            .insert(token.clone(), Session { last_seen: now });
        Some(token)
    }

    /// Whether `token` is a live session; a live one is kept alive, an
    /// expired one is dropped.
    pub fn touch_session(&mut self, token: &str, now: Instant) -> bool {
        let idle = self.session_idle();
        let Some(session) = self.sessions.get_mut(token) else {
            return false;
        };
        if now.saturating_duration_since(session.last_seen) > idle {
            self.sessions.remove(token);
            return false;
        }
        session.last_seen = now;
        true
    }

    /// The current idle timeout of sessions.
    fn session_idle(&self) -> Duration {
        Duration::from_millis(self.faults.session_idle_ms)
    }

    /// Checks and stores a line, honouring the save faults.
    pub fn save_line(&mut self, case_id: &str, new: NewLine<'_>) -> Result<Saved, SaveError> {
        let line = self.check_line(case_id, new)?;
        if take_one(&mut self.faults.fail_saves) {
            return Err(SaveError::InjectedFailure);
        }
        let unconfirmed = take_one(&mut self.faults.store_without_confirm);
        let case = self.cases.get_mut(case_id).ok_or(SaveError::UnknownCase)?;
        case.lines.push(line.clone());
        Ok(if unconfirmed {
            Saved::Unconfirmed
        } else {
            Saved::Confirmed(line)
        })
    }

    /// The line `new` would store on `case_id`, or why it can't.
    fn check_line(&self, case_id: &str, new: NewLine<'_>) -> Result<Line, SaveError> {
        let case = self.cases.get(case_id).ok_or(SaveError::UnknownCase)?;
        if case.status == CaseStatus::Closed {
            return Err(SaveError::CaseClosed);
        }
        let item_no = new.item_no.trim();
        if !self.items.contains_key(item_no) {
            return Err(SaveError::UnknownItem);
        }
        let qty = Qty::parse(new.qty).ok_or(SaveError::BadQty)?;
        Ok(Line {
            item_no: item_no.to_owned(),
            qty,
            reference: new.reference.to_owned(),
        })
    }
}

/// Overwrites `field` when a new value is given.
fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// Uses up one of a fault counter's remaining occurrences, if any.
fn take_one(counter: &mut u32) -> bool {
    if *counter == 0 {
        return false;
    }
    *counter -= 1;
    true
}

/// Refuses an empty (or blank) required field.
fn non_empty(field: &'static str, value: &str) -> Result<(), SeedError> {
    if value.trim().is_empty() {
        return Err(SeedError::Empty(field));
    }
    Ok(())
}

/// A fresh random session token (128 bits, hex).
fn new_token() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(60);

    fn seeded() -> State {
        let mut s = State::new(IDLE);
        let seed: Seed = serde_json::from_str(
            r#"{"users":[{"username":"anna","password":"pw"}],
                "cases":[{"case_id":"0558","status":"open"},{"case_id":"9","status":"closed"}],
                "items":[{"item_no":"0042","name":"Motorolie 5W-30"}]}"#,
        )
        .unwrap();
        s.apply_seed(seed).unwrap();
        s
    }

    fn line<'a>(item_no: &'a str, qty: &'a str) -> NewLine<'a> {
        NewLine {
            item_no,
            qty,
            reference: "OilMat u1",
        }
    }

    fn parsed(text: &str) -> Option<f64> {
        Qty::parse(text).map(Qty::value)
    }

    #[test]
    fn decimal_comma_is_the_decimal_separator() {
        assert_eq!(parsed("4,5"), Some(4.5));
        assert_eq!(parsed(" 5 "), Some(5.0));
        assert_eq!(parsed("0,25"), Some(0.25));
    }

    #[test]
    fn decimal_point_is_a_thousands_separator() {
        assert_eq!(parsed("4.5"), Some(45.0));
        assert_eq!(parsed("1.000,5"), Some(1000.5));
    }

    #[test]
    fn non_numbers_and_non_positive_amounts_are_refused() {
        for bad in [
            "", "abc", "4,5,1", "4,", ",5", "-1", "0", "0,0", "4 5", "1,2.3", ".",
        ] {
            assert_eq!(parsed(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn amounts_display_with_a_comma_and_serialize_as_numbers() {
        let q = |t| Qty::parse(t).unwrap();
        assert_eq!(q("4,5").display(), "4,5");
        assert_eq!(q("5").display(), "5");
        assert_eq!(serde_json::to_string(&q("5")).unwrap(), "5");
        assert_eq!(serde_json::to_string(&q("4,5")).unwrap(), "4.5");
    }

    #[test]
    fn a_save_stores_the_line_in_order() {
        let mut s = seeded();
        s.save_line("0558", line("0042", "4,5")).unwrap();
        s.save_line("0558", line(" 0042 ", "4.5")).unwrap();
        let lines = &s.case("0558").unwrap().lines;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].qty.value(), 4.5);
        assert_eq!(lines[1].qty.value(), 45.0);
        assert_eq!(lines[1].item_no, "0042");
    }

    #[test]
    fn a_save_is_refused_for_bad_input() {
        let mut s = seeded();
        assert_eq!(
            s.save_line("558", line("0042", "1")),
            Err(SaveError::UnknownCase)
        );
        assert_eq!(
            s.save_line("9", line("0042", "1")),
            Err(SaveError::CaseClosed)
        );
        assert_eq!(
            s.save_line("0558", line("42", "1")),
            Err(SaveError::UnknownItem)
        );
        assert_eq!(
            s.save_line("0558", line("0042", "x")),
            Err(SaveError::BadQty)
        );
        assert!(s.case("0558").unwrap().lines.is_empty());
    }

    #[test]
    fn fail_saves_fails_the_next_n_saves_and_stores_nothing() {
        let mut s = seeded();
        s.patch_faults(FaultsPatch {
            fail_saves: Some(2),
            ..FaultsPatch::default()
        });
        for _ in 0..2 {
            let err = s.save_line("0558", line("0042", "1"));
            assert_eq!(err, Err(SaveError::InjectedFailure));
        }
        assert!(matches!(
            s.save_line("0558", line("0042", "1")),
            Ok(Saved::Confirmed(_))
        ));
        assert_eq!(s.case("0558").unwrap().lines.len(), 1);
        assert_eq!(s.faults().fail_saves, 0);
    }

    #[test]
    fn store_without_confirm_stores_but_does_not_confirm() {
        let mut s = seeded();
        s.patch_faults(FaultsPatch {
            store_without_confirm: Some(1),
            ..FaultsPatch::default()
        });
        assert_eq!(
            s.save_line("0558", line("0042", "1")),
            Ok(Saved::Unconfirmed)
        );
        assert!(matches!(
            s.save_line("0558", line("0042", "1")),
            Ok(Saved::Confirmed(_))
        ));
        assert_eq!(s.case("0558").unwrap().lines.len(), 2);
    }

    #[test]
    fn refused_saves_do_not_use_up_fault_counters() {
        let mut s = seeded();
        s.patch_faults(FaultsPatch {
            fail_saves: Some(1),
            ..FaultsPatch::default()
        });
        assert_eq!(
            s.save_line("0558", line("0042", "x")),
            Err(SaveError::BadQty)
        );
        assert_eq!(s.faults().fail_saves, 1);
    }

    #[test]
    fn reposting_a_case_changes_status_and_keeps_lines() {
        let mut s = seeded();
        s.save_line("0558", line("0042", "1")).unwrap();
        let closed = CaseSeed {
            case_id: "0558".into(),
            status: CaseStatus::Closed,
        };
        s.upsert_case(closed).unwrap();
        let case = s.case("0558").unwrap();
        assert_eq!((case.status, case.lines.len()), (CaseStatus::Closed, 1));
    }

    #[test]
    fn reset_clears_faults_and_restores_the_idle_timeout() {
        let mut s = seeded();
        s.patch_faults(FaultsPatch {
            page_delay_ms: Some(500),
            session_idle_ms: Some(10),
            ..FaultsPatch::default()
        });
        assert_eq!(s.reset_faults(), Faults::none(IDLE));
    }

    #[test]
    fn login_checks_the_password() {
        let mut s = seeded();
        let now = Instant::now();
        assert!(s.login("anna", "wrong", now).is_none());
        assert!(s.login("nobody", "pw", now).is_none());
        let token = s.login("anna", "pw", now).unwrap();
        assert_eq!(token.len(), 32);
        assert!(s.touch_session(&token, now));
        assert!(!s.touch_session("forged", now));
    }

    #[test]
    fn sessions_expire_after_the_idle_time_and_activity_keeps_them_alive() {
        let mut s = seeded();
        let t0 = Instant::now();
        let token = s.login("anna", "pw", t0).unwrap();
        assert!(s.touch_session(&token, t0 + IDLE));
        assert!(s.touch_session(&token, t0 + IDLE * 2));
        assert!(!s.touch_session(&token, t0 + IDLE * 3 + Duration::from_millis(1)));
        assert!(
            !s.touch_session(&token, t0 + IDLE * 3),
            "an expired session stays gone"
        );
    }

    #[test]
    fn session_faults_expire_sessions() {
        let mut s = seeded();
        let t0 = Instant::now();
        let token = s.login("anna", "pw", t0).unwrap();
        s.patch_faults(FaultsPatch {
            expire_sessions: true,
            ..FaultsPatch::default()
        });
        assert!(!s.touch_session(&token, t0));
        let token = s.login("anna", "pw", t0).unwrap();
        s.patch_faults(FaultsPatch {
            session_idle_ms: Some(100),
            ..FaultsPatch::default()
        });
        assert!(!s.touch_session(&token, t0 + Duration::from_millis(101)));
    }

    #[test]
    fn empty_ids_are_refused() {
        let mut s = State::new(IDLE);
        let user = UserSeed {
            username: " ".into(),
            password: "pw".into(),
        };
        assert_eq!(s.upsert_user(user), Err(SeedError::Empty("username")));
    }
}
