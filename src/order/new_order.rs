//! A new order as OilMat sends it, checked: what intake records and a driver
//! books.

use std::fmt;

use super::Litres;

/// OilMat's id of one dispense; the key that makes booking idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueId(String);

impl UniqueId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 128;

    /// Checks an id: not empty, at most [`Self::MAX_LEN`] characters, no
    /// control characters.
    pub fn parse(text: &str) -> Result<UniqueId, String> {
        if text.trim().is_empty() {
            return Err("field unique_id is empty".into());
        }
        if text.chars().count() > Self::MAX_LEN {
            return Err(format!(
                "field unique_id is longer than {} characters",
                Self::MAX_LEN
            ));
        }
        if text.chars().any(char::is_control) {
            return Err("field unique_id contains control characters".into());
        }
        Ok(UniqueId(text.to_string()))
    }

    /// The id as OilMat sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The line reference that marks an order on the case: `OilMat <unique_id>`.
pub fn reference(unique_id: &str) -> String {
    format!("OilMat {unique_id}")
}

/// One dispense to book: the order without its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// OilMat's id of the dispense; written into the line's reference.
    pub unique_id: String,
    /// The workshop named in the order.
    pub workshop: String,
    /// The ERP's case (work order) id; leading zeros are significant.
    pub case_id: String,
    /// The ERP's item number; leading zeros are significant.
    pub item_no: String,
    /// How much oil.
    pub amount: Litres,
}

/// What a successful booking did on the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Booked {
    /// The line was added now.
    Added,
    /// A line with the order's reference was already on the case; nothing added.
    AlreadyPresent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_marks_the_order() {
        assert_eq!(reference("a-1"), "OilMat a-1");
    }

    #[test]
    fn unique_ids_are_checked() {
        assert_eq!(UniqueId::parse("x1").unwrap().as_str(), "x1");
        assert!(UniqueId::parse(" ").is_err());
        assert!(UniqueId::parse("a\nb").is_err());
        assert!(UniqueId::parse(&"x".repeat(129)).is_err());
    }
}
