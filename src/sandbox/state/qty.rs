//! Amounts as the sandbox ERP reads and shows them: litres with a decimal
//! comma. Its own reading of erp-ui.md, sharing nothing with the drivers.

use serde::{Serialize, Serializer};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
