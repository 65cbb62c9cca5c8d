//! The lenient `/create` body parser of the original contract: a JSON object,
//! or a JSON-encoded string holding one (the original client posts
//! `json.dumps(...)` as data), with field values as strings or numbers, under
//! any content type. Every refusal names the field and what is wrong with it.

use serde_json::{Map, Value};

use crate::order::Litres;
use crate::secrets::Secret;
use crate::workshop::intake::{BadCreate, CreateRequest};

/// The most bytes a `/create` body may have.
pub const MAX_BODY: usize = 16 * 1024;
const MAX_FIELD_LEN: usize = 256;

/// Parses a `/create` body whose `unique_id` may have up to `max_id_len`
/// characters.
pub fn parse_create(body: &[u8], max_id_len: usize) -> Result<CreateRequest, BadCreate> {
    let object = parse_object(body).map_err(|reason| BadCreate {
        unique_id: None,
        reason,
    })?;
    let unique_id = field(&object, "unique_id", max_id_len).map_err(|reason| BadCreate {
        unique_id: None,
        reason,
    })?;
    let bad = |reason: String| BadCreate {
        unique_id: Some(unique_id.clone()),
        reason,
    };
    let amount = field(&object, "product_amount", 32).map_err(bad)?;
    Ok(CreateRequest {
        workshop: field(&object, "workshop", MAX_FIELD_LEN).map_err(bad)?,
        case_id: field(&object, "case_id", MAX_FIELD_LEN).map_err(bad)?,
        product_nr: field(&object, "product_nr", MAX_FIELD_LEN).map_err(bad)?,
        product_amount: Litres::parse(&amount).map_err(bad)?,
        username: optional_field(&object, "username").map_err(bad)?,
        password: optional_field(&object, "password")
            .map_err(bad)?
            .map(Secret::new),
        unique_id: unique_id.clone(),
    })
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.len() > MAX_BODY {
        return Err(format!("body larger than {MAX_BODY} bytes"));
    }
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8 text".to_string())?;
    if text.trim().is_empty() {
        return Err("empty body: expected a JSON object with the order".to_string());
    }
    let mut value: Value =
        serde_json::from_str(text).map_err(|e| format!("body is not valid JSON: {e}"))?;
    // The original client sends json.dumps(order) as a JSON string: unwrap it (twice at most).
    for _ in 0..2 {
        if let Value::String(inner) = &value {
            value = serde_json::from_str(inner)
                .map_err(|e| format!("body is a JSON string that does not hold JSON: {e}"))?;
        }
    }
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!(
            "body must be a JSON object, got {}",
            type_name(&other)
        )),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A required field: a non-empty string or a number, of sane length and characters.
fn field(object: &Map<String, Value>, name: &str, max_len: usize) -> Result<String, String> {
    let value = object
        .get(name)
        .ok_or_else(|| format!("missing field {name}"))?;
    let text = scalar_text(value).ok_or_else(|| {
        format!(
            "field {name} must be a string or a number, got {}",
            type_name(value)
        )
    })?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(format!("field {name} is empty"));
    }
    if text.chars().count() > max_len {
        return Err(format!("field {name} is longer than {max_len} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("field {name} contains control characters"));
    }
    Ok(text)
}

fn optional_field(object: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => field(object, name, MAX_FIELD_LEN).map(Some),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The parser at the default unique_id limit.
    fn parse_create(body: &[u8]) -> Result<CreateRequest, BadCreate> {
        super::parse_create(body, 128)
    }

    #[test]
    fn the_unique_id_limit_is_the_setting() {
        let long = GOOD.replace("\"x1\"", &format!("\"{}\"", "a".repeat(41)));
        assert!(parse_create(long.as_bytes()).is_ok());
        let refused = super::parse_create(long.as_bytes(), 40).unwrap_err();
        assert!(refused.reason.contains("unique_id"), "{}", refused.reason);
        assert!(super::parse_create(long.as_bytes(), 41).is_ok());
    }

    const GOOD: &str = r#"{"workshop":"Bennys Auto","case_id":"0558","product_nr":"10","product_amount":"4.5","unique_id":"x1","username":"admin","password":"gygag"}"#;

    #[test]
    fn accepts_an_object_and_a_json_encoded_string() {
        let direct = parse_create(GOOD.as_bytes()).unwrap();
        let encoded = serde_json::to_string(GOOD).unwrap();
        assert_eq!(parse_create(encoded.as_bytes()).unwrap(), direct);
        assert_eq!(direct.case_id, "0558");
        assert_eq!(direct.password.unwrap().expose(), "gygag");
    }

    #[test]
    fn accepts_numbers_for_fields() {
        let body = r#"{"workshop":"W","case_id":558,"product_nr":10,"product_amount":5,"unique_id":7,"username":"u","password":"p"}"#;
        let order = parse_create(body.as_bytes()).unwrap();
        assert_eq!(
            (
                order.case_id.as_str(),
                order.product_amount.as_str(),
                order.unique_id.as_str()
            ),
            ("558", "5", "7")
        );
    }

    #[test]
    fn names_the_missing_or_malformed_field() {
        let missing = r#"{"workshop":"W","product_nr":"10","product_amount":"5","unique_id":"a"}"#;
        let err = parse_create(missing.as_bytes()).unwrap_err();
        assert_eq!(err.reason, "missing field case_id");
        assert_eq!(err.unique_id.as_deref(), Some("a"));
        let bad_amount = GOOD.replace("\"4.5\"", "\"lots\"");
        assert!(parse_create(bad_amount.as_bytes())
            .unwrap_err()
            .reason
            .contains("product_amount"));
        assert!(parse_create(b"[1,2]")
            .unwrap_err()
            .reason
            .contains("JSON object"));
        assert_eq!(parse_create(b"").unwrap_err().unique_id, None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::hash_map(
                    prop_oneof![
                        Just("unique_id".to_string()),
                        Just("case_id".to_string()),
                        Just("product_amount".to_string()),
                        ".{0,8}"
                    ],
                    inner,
                    0..8
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_create(&body);
        }

        #[test]
        fn arbitrary_json_never_panics(value in arb_json()) {
            let _ = parse_create(value.to_string().as_bytes());
            let _ = parse_create(serde_json::to_string(&value.to_string()).unwrap().as_bytes());
        }
    }
}
