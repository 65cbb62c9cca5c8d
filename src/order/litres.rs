//! Litres: one rule to read what OilMat sends, one rule to write what an ERP
//! accepts.

use std::fmt;

/// The most litres one dispense may have.
const MAX_LITRES: f64 = 100_000.0;

/// A positive amount of litres, kept in its canonical form: a decimal point,
/// no leading zeros, no trailing fractional zeros (`"4.5"`, `"5"`, `"0.25"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Litres(String);

impl Litres {
    /// Reads OilMat's amount: `"4.5"`, `"4,5"`, `"5"`, `"05"`, `"4.50"`; the
    /// error says what is wrong, naming the field `product_amount`.
    pub fn parse(text: &str) -> Result<Litres, String> {
        let text = text.trim().replace(',', ".");
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (text.as_str(), None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return Err(format!(
                "field product_amount must be a positive number of litres, got {text:?}"
            ));
        }
        let value: f64 = text
            .parse()
            .map_err(|_| format!("field product_amount is not a number: {text:?}"))?;
        if value <= 0.0 || value > MAX_LITRES {
            return Err(format!(
                "field product_amount must be more than 0 and at most 100000 litres, got {text}"
            ));
        }
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        Ok(Litres(match frac.map(|f| f.trim_end_matches('0')) {
            Some(f) if !f.is_empty() => format!("{int}.{f}"),
            _ => int.to_string(),
        }))
    }

    /// The canonical form with a decimal point, as stored in the log.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form an ERP's amount field takes: a decimal comma (`"4,5"`); a
    /// decimal point would be read as a thousands separator.
    pub fn erp_format(&self) -> String {
        self.0.replace('.', ",")
    }

    /// Whether `shown` (read back from an ERP field, decimal comma or point)
    /// is the same amount, ignoring zeros that do not change the value.
    pub fn same_as(&self, shown: &str) -> bool {
        Litres::parse(shown).is_ok_and(|read| read == *self)
    }
}

impl fmt::Display for Litres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oilmat_amounts_read_to_one_form() {
        for (input, canonical, erp) in [
            ("4.5", "4.5", "4,5"),
            ("4,50", "4.5", "4,5"),
            ("05", "5", "5"),
            (" 5 ", "5", "5"),
            ("0.25", "0.25", "0,25"),
            ("12.000", "12", "12"),
            ("100000", "100000", "100000"),
        ] {
            let litres = Litres::parse(input).unwrap();
            assert_eq!(litres.as_str(), canonical, "{input}");
            assert_eq!(litres.erp_format(), erp, "{input}");
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_field() {
        for bad in [
            "", "0", "0.0", "-1", "1e3", "4.5.1", "lots", "1 000", "100000.5", ".5", "5.",
        ] {
            let err = Litres::parse(bad).unwrap_err();
            assert!(err.contains("product_amount"), "{bad}: {err}");
        }
    }

    #[test]
    fn read_back_values_compare_by_amount() {
        let litres = Litres::parse("4.5").unwrap();
        assert!(litres.same_as("4,50"));
        assert!(litres.same_as("4,5"));
        assert!(!litres.same_as("45"));
        assert!(!litres.same_as(""));
    }
}
