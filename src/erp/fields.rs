//! What the driver reads back from the page before and after a save: the
//! typed fields (an ERP may cut or change what was typed, erp-ui.md "Common
//! to both") and the references of a case's lines, read whole in one go so
//! that a list re-rendering itself can never look like "no such line".

use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use super::error::{Failure, Result};
use super::ui::LineToBook;
use super::waiting::{css, vanished, POLL_INTERVAL};
use crate::order::Litres;

/// The selectors of the add-line form's three inputs.
#[derive(Debug, Clone, Copy)]
pub struct LineInputs {
    /// The item number input.
    pub item: &'static str,
    /// The amount input.
    pub amount: &'static str,
    /// The reference input.
    pub reference: &'static str,
}

/// Reads the three inputs' `value` back; a value the ERP cut or changed is
/// a final `bad input`, so nothing is saved.
pub async fn check_typed(
    driver: &WebDriver,
    inputs: LineInputs,
    line: &LineToBook<'_>,
) -> Result<()> {
    let item = value_of(driver, inputs.item).await?;
    let amount = value_of(driver, inputs.amount).await?;
    let reference = value_of(driver, inputs.reference).await?;
    compare_typed(line, &item, &amount, &reference)
}

async fn value_of(driver: &WebDriver, selector: &str) -> Result<String> {
    let input = driver.find(css(selector)).await?;
    Ok(input.prop("value").await?.unwrap_or_default())
}

/// Compares what was read back with what was typed.
pub fn compare_typed(
    line: &LineToBook<'_>,
    item: &str,
    amount: &str,
    reference: &str,
) -> Result<()> {
    if reference != line.reference {
        let kept = reference.chars().count();
        if kept < line.reference.chars().count() && line.reference.starts_with(reference) {
            return Err(Failure::bad_input(format!(
                "the ERP keeps only {kept} characters of the reference"
            )));
        }
        return Err(changed("reference", reference));
    }
    if item.trim() != line.item_no {
        return Err(changed("item", item));
    }
    let same_amount = Litres::parse(&line.amount).is_ok_and(|typed| typed.same_as(amount));
    if !same_amount {
        return Err(changed("amount", amount));
    }
    Ok(())
}

fn changed(field: &str, value: &str) -> Failure {
    Failure::bad_input(format!("the ERP changed the {field} to {value}"))
}

/// The trimmed `textContent` of every element matching `selector`, read by
/// one script in the page, so no element can go stale half-way.
const READ_TEXTS: &str = "return Array.from(document.querySelectorAll(arguments[0])).map(e => (e.textContent || '').trim());";

/// One complete read of a case's lines that did not hold the reference:
/// the first half of "absent" (the second is an agreeing read at least a
/// gap later, see [`has_reference_after`]).
#[derive(Debug, Clone)]
pub struct LinesSeen {
    texts: Vec<String>,
    at: Instant,
}

/// What a first look at a case's lines found.
#[derive(Debug, Clone)]
pub enum Look {
    /// The line with the reference is there.
    Present,
    /// One complete read without it: not yet "absent".
    NotSeen(LinesSeen),
}

/// One complete read of the lines (made again while the page or frame is
/// being replaced, until `timeout`): is the reference there?
pub async fn first_look(
    driver: &WebDriver,
    selector: &str,
    reference: &str,
    timeout: Duration,
    step: &str,
) -> Result<Look> {
    let deadline = Instant::now() + timeout;
    loop {
        match read_texts(driver, selector).await? {
            Some(texts) if texts.iter().any(|t| t == reference) => return Ok(Look::Present),
            Some(texts) => {
                let at = Instant::now();
                return Ok(Look::NotSeen(LinesSeen { texts, at }));
            }
            None => {}
        }
        if Instant::now() >= deadline {
            return Err(Failure::timeout(step));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// How a reference check reads: which cells, what it looks for, how far
/// apart two agreeing reads must be, and its deadline.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceCheck<'a> {
    /// The cells holding the lines' references.
    pub selector: &'a str,
    /// The reference looked for.
    pub reference: &'a str,
    /// How far apart two agreeing reads must be for "absent".
    pub gap: Duration,
    /// The step's deadline.
    pub timeout: Duration,
    /// The step's name, for a timeout.
    pub step: &'a str,
}

/// Whether a line with `reference` is on the case, from complete reads
/// only: every cell's text is read by one script; "absent" needs two such
/// reads at least `gap` apart that agree. A read that fails because the
/// page or frame is being replaced is made again, until `timeout`.
pub async fn has_reference(
    driver: &WebDriver,
    selector: &str,
    reference: &str,
    gap: Duration,
    timeout: Duration,
    step: &str,
) -> Result<bool> {
    let check = ReferenceCheck {
        selector,
        reference,
        gap,
        timeout,
        step,
    };
    has_reference_after(driver, check, None).await
}

/// [`has_reference`], going on from an earlier complete read `first` (the
/// first look at the case, made before the line was typed): when that read
/// is old enough and the lines still agree with it, one more read decides.
pub async fn has_reference_after(
    driver: &WebDriver,
    check: ReferenceCheck<'_>,
    first: Option<LinesSeen>,
) -> Result<bool> {
    let deadline = Instant::now() + check.timeout;
    let mut first = first;
    loop {
        match read_texts(driver, check.selector).await? {
            Some(texts) if texts.iter().any(|t| t == check.reference) => return Ok(true),
            Some(texts) => match &first {
                Some(seen) if seen.at.elapsed() >= check.gap => {
                    if seen.texts == texts {
                        return Ok(false);
                    }
                    first = Some(LinesSeen {
                        texts,
                        at: Instant::now(),
                    });
                }
                Some(_) => {}
                None => {
                    first = Some(LinesSeen {
                        texts,
                        at: Instant::now(),
                    })
                }
            },
            None => first = None,
        }
        if Instant::now() >= deadline {
            return Err(Failure::timeout(check.step));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One complete read, or `None` when the document went away mid-read.
pub async fn read_texts(driver: &WebDriver, selector: &str) -> Result<Option<Vec<String>>> {
    let args = vec![serde_json::Value::String(selector.to_string())];
    match driver.execute(READ_TEXTS, args).await {
        Ok(ret) => match ret.convert::<Vec<String>>() {
            Ok(texts) => Ok(Some(texts)),
            Err(_) => Ok(None),
        },
        Err(e) if vanished(&e) || is_script_interrupted(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A script cut short because its document was being replaced.
fn is_script_interrupted(e: &WebDriverError) -> bool {
    use thirtyfour::error::WebDriverErrorInner as I;
    matches!(e.as_inner(), I::JavascriptError(_) | I::NoSuchFrame(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(reference: &str) -> LineToBook<'static> {
        LineToBook {
            case_id: "1",
            item_no: "0815",
            amount: "4,5".into(),
            reference: reference.into(),
        }
    }

    #[test]
    fn a_cut_reference_says_how_much_the_erp_keeps() {
        let long = format!("OilMat {}", "x".repeat(50));
        let cut: String = long.chars().take(40).collect();
        let err = compare_typed(&line(&long), "0815", "4,5", &cut).unwrap_err();
        assert!(err.is_final());
        assert_eq!(
            err.reason,
            "bad input: the ERP keeps only 40 characters of the reference"
        );
    }

    #[test]
    fn changed_values_are_named_and_equal_amounts_pass() {
        let l = line("OilMat u1");
        assert_eq!(compare_typed(&l, "0815", "4,50", "OilMat u1"), Ok(()));
        assert_eq!(compare_typed(&l, "0815", "4.5", "OilMat u1"), Ok(()));
        let err = compare_typed(&l, "815", "4,5", "OilMat u1").unwrap_err();
        assert_eq!(err.reason, "bad input: the ERP changed the item to 815");
        let err = compare_typed(&l, "0815", "45", "OilMat u1").unwrap_err();
        assert_eq!(err.reason, "bad input: the ERP changed the amount to 45");
        let err = compare_typed(&l, "0815", "4,5", "OilMat u2").unwrap_err();
        assert_eq!(
            err.reason,
            "bad input: the ERP changed the reference to OilMat u2"
        );
    }
}
