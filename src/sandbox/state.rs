//! The in-memory data of one sandbox ERP: users, cases with their order
//! lines, items, login sessions and the fault settings. Plain data and rules,
//! no I/O and no HTTP, so it is tested without a server.
//!
//! - [`faults`]: the fault settings and their JSON.
//! - [`qty`]: amounts as the ERP reads and shows them.

mod faults;
mod qty;
#[cfg(test)]
mod tests;

pub use self::faults::{Down, Faults, FaultsPatch, SlowCommit};
pub use self::qty::Qty;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

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
    /// Accepted but not stored yet (the slow-commit fault): store it with
    /// [`State::commit`] once `after` has passed.
    Held {
        /// The line to store.
        line: Line,
        /// How long to hold it.
        after: Duration,
        /// Whether the answer may confirm it once stored.
        confirm: bool,
    },
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
        self.faults.apply(&patch);
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

    /// Checks and stores a line, honouring the save faults (a slow commit
    /// is not stored yet: see [`Saved::Held`]).
    pub fn save_line(&mut self, case_id: &str, new: NewLine<'_>) -> Result<Saved, SaveError> {
        let line = self.check_line(case_id, new)?;
        if take_one(&mut self.faults.fail_saves) {
            return Err(SaveError::InjectedFailure);
        }
        let confirm = !take_one(&mut self.faults.store_without_confirm);
        if take_one(&mut self.faults.slow_commit_saves) {
            let after = Duration::from_millis(self.faults.slow_commit_ms);
            return Ok(Saved::Held {
                line,
                after,
                confirm,
            });
        }
        self.commit(case_id, line.clone())?;
        Ok(if confirm {
            Saved::Confirmed(line)
        } else {
            Saved::Unconfirmed
        })
    }

    /// Stores a line that was checked before (by [`State::save_line`]).
    pub fn commit(&mut self, case_id: &str, line: Line) -> Result<(), SaveError> {
        let case = self.cases.get_mut(case_id).ok_or(SaveError::UnknownCase)?;
        case.lines.push(line);
        Ok(())
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
            reference: self.kept_reference(new.reference),
        })
    }

    /// The part of a reference the ERP stores (the `reference_maxlength` fault).
    fn kept_reference(&self, reference: &str) -> String {
        match self.faults.reference_maxlength {
            Some(max) => reference
                .chars()
                .take(usize::try_from(max).unwrap_or(usize::MAX))
                .collect(),
            None => reference.to_owned(),
        }
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
