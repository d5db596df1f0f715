//! Validation of what a producer sends: body characters and message attributes.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::errors::{ErrorCode, SqsError};
use crate::state::message::{base_type, AttributeValue};

/// Allowed characters: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF
/// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
pub fn allowed_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

pub fn validate_body(body: &str) -> Result<(), SqsError> {
    if body.is_empty() {
        return Err(SqsError::missing("MessageBody"));
    }
    if let Some(bad) = body.chars().find(|c| !allowed_char(*c)) {
        return Err(SqsError::new(
            ErrorCode::InvalidMessageContents,
            format!(
                "Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
                u32::from(bad)
            ),
        ));
    }
    Ok(())
}

/// Message attributes per "Message attribute components"
/// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html):
/// at most 10; names of A-Za-z0-9 `_ - .`, up to 256, not starting with `AWS.`/`Amazon.`, no
/// leading/trailing/doubled period; type String/Number/Binary with an optional `.label`.
/// System attributes accept only `AWSTraceHeader` (String).
pub fn parse_attributes(
    value: Option<&Value>,
    system: bool,
) -> Result<BTreeMap<String, AttributeValue>, SqsError> {
    let map = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(invalid("MessageAttributes must be a map.".into())),
    };
    if map.len() > 10 {
        return Err(invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            map.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (name, raw) in map {
        if system {
            if name != "AWSTraceHeader" {
                return Err(invalid(format!(
                    "Message system attribute name '{name}' is invalid."
                )));
            }
        } else {
            validate_attribute_name(name).map_err(invalid)?;
        }
        out.insert(name.clone(), parse_attribute(name, raw)?);
    }
    Ok(out)
}

fn invalid(message: String) -> SqsError {
    SqsError::new(ErrorCode::InvalidParameterValue, message)
}

/// One attribute's `DataType` and its value of that type.
fn parse_attribute(name: &str, raw: &Value) -> Result<AttributeValue, SqsError> {
    let data_type = raw
        .get("DataType")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "The message attribute '{name}' must contain a non-empty message attribute type."
            ))
        })?;
    let base = base_type(data_type);
    if !matches!(base, "String" | "Number" | "Binary") || data_type.len() > 256 {
        return Err(invalid(format!(
            "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )));
    }
    let empty = || {
        invalid(format!(
            "The message attribute '{name}' must contain a non-empty message attribute value for message attribute type '{data_type}'."
        ))
    };
    if base == "Binary" {
        let encoded = raw.get("BinaryValue").and_then(Value::as_str).unwrap_or("");
        let bytes = STANDARD.decode(encoded).map_err(|_| {
            invalid(format!(
                "The message attribute '{name}' has an invalid binary value."
            ))
        })?;
        if bytes.is_empty() {
            return Err(empty());
        }
        return Ok(AttributeValue {
            data_type: data_type.to_string(),
            string_value: None,
            binary_value: Some(bytes),
        });
    }
    let text = raw
        .get("StringValue")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(empty)?;
    if !text.chars().all(allowed_char) {
        return Err(invalid(format!(
            "The message attribute '{name}' contains invalid characters."
        )));
    }
    if base == "Number" && !is_number(text) {
        return Err(invalid(format!(
            "Could not cast message attribute '{name}' value to number."
        )));
    }
    Ok(AttributeValue {
        data_type: data_type.to_string(),
        string_value: Some(text.to_string()),
        binary_value: None,
    })
}

fn validate_attribute_name(name: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.")
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..");
    if valid {
        Ok(())
    } else {
        Err(format!(
            "Message (user) attribute name '{name}' is invalid."
        ))
    }
}

/// Number attributes: up to 38 digits of precision, between 10^-128 and 10^+126.
fn is_number(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    digits > 0
        && digits <= 38
        && text
            .trim()
            .parse::<f64>()
            .is_ok_and(|n| n.is_finite() && n.abs() < 1e127)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_characters() {
        assert!(validate_body("ok\t\n\r é 😀").is_ok());
        assert_eq!(
            validate_body("bad\u{1}").unwrap_err().code,
            ErrorCode::InvalidMessageContents
        );
        assert_eq!(
            validate_body("").unwrap_err().code,
            ErrorCode::MissingParameter
        );
    }

    #[test]
    fn attribute_values_by_type() {
        let parse = |raw: Value| parse_attribute("a", &raw);
        let number = parse(serde_json::json!({"DataType": "Number.int", "StringValue": "42"}));
        assert_eq!(number.unwrap().string_value.as_deref(), Some("42"));
        let binary = parse(serde_json::json!({"DataType": "Binary", "BinaryValue": "AAE="}));
        assert_eq!(binary.unwrap().binary_value, Some(vec![0, 1]));
        for bad in [
            serde_json::json!({"DataType": "Number", "StringValue": "x"}),
            serde_json::json!({"DataType": "Binary", "BinaryValue": ""}),
            serde_json::json!({"DataType": "Date", "StringValue": "x"}),
            serde_json::json!({"StringValue": "x"}),
            serde_json::json!({"DataType": "String"}),
        ] {
            let err = parse(bad.clone()).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{bad}");
        }
    }

    #[test]
    fn attribute_names() {
        assert!(validate_attribute_name("a.b-c_d").is_ok());
        for bad in ["", ".a", "a.", "a..b", "AWS.x", "amazon.y", "a b"] {
            assert!(validate_attribute_name(bad).is_err(), "{bad}");
        }
    }
}
