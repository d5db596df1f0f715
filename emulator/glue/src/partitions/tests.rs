//! Property tests of the GetPartitions `Expression` over arbitrary input (issue 11, item 4): from
//! the request body to the compiled filter and its evaluation, nothing panics, and every rejected
//! expression is a Glue error on the wire (`InvalidInputException`, or `ValidationException`
//! past 2,048 characters). Case count: `PROPTEST_CASES` (default 256); bench mode is
//! `PROPTEST_CASES=1000000` (README, "Run the tests").

use proptest::prelude::*;
use serde_json::{json, Value};

use super::expression_filter;
use crate::protocol::Request;
use crate::state::PartitionKey;

fn keys() -> Vec<PartitionKey> {
    [
        ("year", "string"),
        ("month", "int"),
        ("day", "bigint"),
        ("cost", "decimal(10,2)"),
    ]
    .iter()
    .map(|(name, type_name)| PartitionKey {
        name: name.to_string(),
        type_name: type_name.to_string(),
    })
    .collect()
}

/// Tokens of the expression language (and near misses), so that arbitrary sequences get past
/// the lexer into the parser, the type checks and evaluation.
const TOKENS: &[&str] = &[
    "year",
    "month",
    "day",
    "cost",
    "other",
    "`year`",
    "\"day\"",
    "`",
    "\"",
    "'2024'",
    "'1'",
    "''",
    "'it''s'",
    "'",
    "1",
    "-1",
    "12.50",
    "1e3",
    "99999999999999999999",
    "=",
    "<>",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "LIKE",
    "IS",
    "NULL",
    "ESCAPE",
    "(",
    ")",
    ",",
    "'%'",
    "'_2%'",
    "'\\'",
    " ",
    "and",
    "or",
];

fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,64}",
        prop::collection::vec(prop::sample::select(TOKENS), 0..48).prop_map(|t| t.join(" ")),
        // Long flat chains up to and past the 2,048-character limit (issue 11, item 5).
        (1usize..800, any::<bool>(), prop::sample::select(TOKENS)).prop_map(|(n, or, tail)| {
            let joiner = if or { " OR " } else { " AND " };
            let mut text = vec!["year='1'"; n].join(joiner);
            text.push(' ');
            text.push_str(tail);
            text
        }),
    ]
}

/// Partition values: numbers, text and garbage, for the columns of [`keys`].
fn partition_values() -> impl Strategy<Value = Vec<String>> {
    let value = prop_oneof![
        "-?[0-9]{1,22}(\\.[0-9]{0,4})?",
        "\\PC{0,8}",
        prop::sample::select(vec![
            "",
            "2024",
            "NaN",
            "1e400",
            "-0",
            "9223372036854775808"
        ])
        .prop_map(String::from),
    ];
    prop::collection::vec(value, 0..6)
}

/// The wire-level check: the request as GetPartitions reads it.
fn check(body: &[u8], values: &[String]) -> Result<(), TestCaseError> {
    let request = match Request::parse(body) {
        Ok(request) => request,
        Err(error) => {
            prop_assert_eq!(error.code(), "SerializationException");
            return Ok(());
        }
    };
    match expression_filter(&request, &keys()) {
        Ok(Some(filter)) => {
            filter.matches(values);
        }
        Ok(None) => {}
        Err(error) => {
            let code = error.code();
            prop_assert!(
                [
                    "InvalidInputException",
                    "ValidationException",
                    "SerializationException"
                ]
                .contains(&code),
                "{}: {}",
                code,
                error
            );
            prop_assert!(!error.message().is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn any_expression_is_a_filter_or_a_glue_error(
        text in expression(), values in partition_values(),
    ) {
        let body = json!({"DatabaseName": "db", "TableName": "t", "Expression": text});
        check(body.to_string().as_bytes(), &values)?;
        let length = text.encode_utf16().count();
        let compiled = expression_filter(&Request::parse(body.to_string().as_bytes()).unwrap(), &keys());
        if length > 2048 {
            prop_assert_eq!(compiled.err().map(|e| e.code()), Some("ValidationException"));
        }
    }

    #[test]
    fn any_body_bytes_are_a_request_or_a_serialization_error(
        bytes in prop::collection::vec(any::<u8>(), 0..128),
        expression in prop::option::of(prop_oneof![
            Just(Value::Null), any::<i64>().prop_map(Value::from), any::<bool>().prop_map(Value::from),
            Just(json!(["year='1'"])), Just(json!({"a": 1})),
        ]),
    ) {
        check(&bytes, &[])?;
        if let Some(expression) = expression {
            check(json!({"Expression": expression}).to_string().as_bytes(), &[])?;
        }
    }
}
