//! Typed reads of an operation's input.
//!
//! Both protocols are decoded into the awsJson1_0 input shape (a JSON object with the API's
//! member names); operations read their members through these helpers, which turn wrong types
//! into SQS errors instead of panicking. Numbers may arrive as JSON numbers (JSON protocol) or as
//! strings (query protocol); both are accepted.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::errors::SqsError;

fn wrong_type(key: &str) -> SqsError {
    SqsError::new(
        crate::errors::ErrorCode::InvalidParameterValue,
        format!("Value for parameter {key} is invalid. Reason: wrong type."),
    )
}

pub fn str_opt<'a>(input: &'a Value, key: &str) -> Result<Option<&'a str>, SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(wrong_type(key)),
    }
}

pub fn str_req<'a>(input: &'a Value, key: &str) -> Result<&'a str, SqsError> {
    str_opt(input, key)?.ok_or_else(|| SqsError::missing(key))
}

pub fn int_opt(input: &Value, key: &str) -> Result<Option<i64>, SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| wrong_type(key)),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| SqsError::invalid_parameter(key, s, "Not a valid integer.")),
        Some(_) => Err(wrong_type(key)),
    }
}

/// An integer parameter that must lie in `min..=max` when present.
pub fn ranged_int(
    input: &Value,
    key: &str,
    min: i64,
    max: i64,
    reason: &str,
) -> Result<Option<i64>, SqsError> {
    match int_opt(input, key)? {
        Some(n) if !(min..=max).contains(&n) => Err(SqsError::invalid_parameter(key, n, reason)),
        other => Ok(other),
    }
}

pub fn str_list(input: &Value, key: &str) -> Result<Vec<String>, SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong_type(key))
            })
            .collect(),
        Some(_) => Err(wrong_type(key)),
    }
}

pub fn str_map(input: &Value, key: &str) -> Result<BTreeMap<String, String>, SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                _ => Err(wrong_type(key)),
            })
            .collect(),
        Some(_) => Err(wrong_type(key)),
    }
}

pub fn list<'a>(input: &'a Value, key: &str) -> Result<&'a [Value], SqsError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items.as_slice()),
        Some(_) => Err(wrong_type(key)),
    }
}

/// The queue name in a QueueUrl (`http://host/<account>/<name>`): its last path segment.
pub fn queue_name_from_url(url: &str) -> &str {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    without_query
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(without_query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_from_both_protocols() {
        let input = json!({"a": 3, "b": "4", "c": "x", "d": true});
        assert_eq!(int_opt(&input, "a").unwrap(), Some(3));
        assert_eq!(int_opt(&input, "b").unwrap(), Some(4));
        assert!(int_opt(&input, "c").is_err());
        assert!(int_opt(&input, "d").is_err());
        assert_eq!(int_opt(&input, "missing").unwrap(), None);
    }

    #[test]
    fn url_to_name() {
        assert_eq!(
            queue_name_from_url("http://localhost:4566/000000000000/orders"),
            "orders"
        );
        assert_eq!(queue_name_from_url("/000000000000/orders/"), "orders");
        assert_eq!(queue_name_from_url("orders"), "orders");
    }
}
