//! Property tests of Athena's request shapes over arbitrary input (issue 11, item 4): every
//! operation's request parsing ([`super::parse`]) from arbitrary bytes and from arbitrary JSON
//! steered toward the real member names, and the SQL statement front ([`crate::parse_statement`])
//! from arbitrary strings. Nothing panics, and every rejection is a client error (4xx) whose wire
//! form is Athena's awsJson1_1 error: a JSON body with `__type` (the `x-amzn-errortype` header's
//! value) and a non-empty `Message`. Case count: `PROPTEST_CASES` (default 256); bench mode is
//! `PROPTEST_CASES=1000000` (README, "Run the tests").

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{parse, Request};
use crate::errors::ApiError;

const OPERATIONS: &[&str] = &[
    "StartQueryExecution",
    "GetQueryExecution",
    "GetQueryResults",
    "StopQueryExecution",
    "ListQueryExecutions",
    "BatchGetQueryExecution",
    "GetWorkGroup",
    "ListWorkGroups",
    "ListDataCatalogs",
    "GetDataCatalog",
    "ListDatabases",
    "GetDatabase",
    "ListTableMetadata",
    "GetTableMetadata",
    "CreateWorkGroup",
    "startqueryexecution",
    "",
];

const MEMBERS: &[&str] = &[
    "QueryString",
    "QueryExecutionId",
    "QueryExecutionIds",
    "NextToken",
    "MaxResults",
    "WorkGroup",
    "ResultConfiguration",
    "ClientRequestToken",
    "QueryExecutionContext",
    "ExecutionParameters",
    "Name",
    "CatalogName",
    "DatabaseName",
    "TableName",
    "Expression",
    "Database",
    "Catalog",
    "OutputLocation",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "SELECT 1",
            "primary",
            "AwsDataCatalog",
            "analytics_db",
            "o0",
            "o1",
            "o-1",
            "o99999999999999999999999",
            "x",
            "",
            "s3://bucket/prefix/",
            "sales*",
            "(",
            "[",
            "*",
            "\\",
            "0123456789abcdef0123456789abcdef",
            "SHOW TABLES",
            "DESCRIBE t",
        ])
        .prop_map(String::from),
        "\\PC{0,40}",
        // Around the length limits: tokens (32..=128) and expressions (256).
        (0usize..300).prop_map(|n| "a".repeat(n)),
    ]
}

/// JSON member values: scalars, lists of ids around BatchGetQueryExecution's 50, and small
/// objects/lists of the API's members with wrong types (kept small: generation dominates the
/// cost of a case, and a million cases must run in minutes).
fn member_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..1100).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
        (0usize..60).prop_map(|n| Value::Array(vec![Value::from("id"); n])),
    ];
    scalar.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(MEMBERS), inner), 0..3).prop_map(
                |members| {
                    Value::Object(
                        members
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect(),
                    )
                }
            ),
        ]
    })
}

/// A rejection is a 4xx in Athena's error shape.
fn check_rejection(error: &ApiError) -> Result<(), TestCaseError> {
    let response = error.to_response();
    let status = response.status();
    prop_assert!(status.is_client_error(), "{error:?} -> {status}");
    let header = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let body: Value =
        serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(body["__type"].as_str(), header.as_deref());
    prop_assert_eq!(body["__type"].as_str(), Some(error.type_name()));
    prop_assert!(
        body["Message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    Ok(())
}

/// What an accepted request must satisfy: the constraints the parser promises.
fn check_accepted(request: &Request) -> Result<(), TestCaseError> {
    match request {
        Request::StartQueryExecution(start) => {
            prop_assert!((1..=262_144).contains(&start.query.chars().count()));
            if let Some(token) = &start.token {
                prop_assert!((32..=128).contains(&token.chars().count()));
            }
        }
        Request::GetQueryResults { page, .. } => prop_assert!((1..=1000).contains(&page.max)),
        Request::ListQueryExecutions { page, .. } => prop_assert!(page.max <= 50),
        Request::BatchGetQueryExecution { ids } => prop_assert!((1..=50).contains(&ids.len())),
        Request::ListDatabases { page, .. } | Request::ListTableMetadata { page, .. } => {
            prop_assert!((1..=50).contains(&page.max))
        }
        _ => {}
    }
    Ok(())
}

fn check(operation: &str, body: &[u8]) -> Result<(), TestCaseError> {
    match parse(operation, body) {
        Ok(request) => check_accepted(&request),
        Err(error) => check_rejection(&error),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn any_bytes_for_any_operation(
        operation in prop::sample::select(OPERATIONS),
        body in prop::collection::vec(any::<u8>(), 0..160),
    ) {
        check(operation, &body)?;
        // The same bytes inside a JSON object's string member.
        let wrapped = serde_json::json!({ "QueryString": String::from_utf8_lossy(&body) });
        check(operation, wrapped.to_string().as_bytes())?;
    }

    #[test]
    fn json_steered_to_the_member_names(
        operation in prop::sample::select(OPERATIONS),
        members in prop::collection::vec((prop::sample::select(MEMBERS), member_value()), 0..6),
    ) {
        let input: Map<String, Value> =
            members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        check(operation, Value::Object(input).to_string().as_bytes())?;
    }

    #[test]
    fn any_statement_text(
        sql in prop_oneof![
            "\\PC{0,80}",
            "(?i)(select|show|describe|desc|msck repair table|drop table|create table|with|values|explain)[ (\"`a-z0-9_.,*;'=)]{0,60}",
            "(?i)create table (if not exists )?[a-z\"`.]{1,12} with \\(([a-z_]{1,12} ?= ?'[^']{0,8}',? ?){0,3}\\) as (select|with)[ a-z0-9(),*]{0,30}",
        ],
    ) {
        if let Err(error) = crate::parse_statement(&sql) {
            check_rejection(&error)?;
        }
    }

    #[test]
    fn deeply_nested_statements(depth in 0usize..400, open in "[(\\[]", word in "(select|1|a)") {
        let sql = format!("SELECT {}{}{}", open.repeat(depth), word, ")".repeat(depth));
        if let Err(error) = crate::parse_statement(&sql) {
            check_rejection(&error)?;
        }
    }
}
