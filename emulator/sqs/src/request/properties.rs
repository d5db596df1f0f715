//! Property tests of request parsing over arbitrary input (issue 11, item 4), for both wire
//! protocols: the query protocol's form decoding and the JSON protocol's body decoding, then
//! [`SqsRequest::parse`]. Nothing panics, and every rejected request is an [`SqsError`] whose
//! code is a client error (4xx, never `InternalError`) with a message, which both protocols'
//! `response` encode with that status. Case count: `PROPTEST_CASES` (default 256); bench mode
//! is `PROPTEST_CASES=1000000` (README, "Run the tests").

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::SqsRequest;
use crate::errors::{ErrorCode, SqsError};
use crate::{json_protocol, query_protocol};

const ACTIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "PurgeQueue",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "ListDeadLetterSourceQueues",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "SendMessageBatch",
    "DeleteMessageBatch",
    "ChangeMessageVisibilityBatch",
    "StartMessageMoveTask",
    "ListMessageMoveTasks",
    "CancelMessageMoveTask",
    "AddPermission",
    "Nope",
    "",
];

/// Member names of the query protocol (flattened lists, maps and structures) and of the JSON
/// protocol, so arbitrary requests reach the per-operation checks.
const MEMBERS: &[&str] = &[
    "QueueUrl",
    "QueueName",
    "QueueNamePrefix",
    "MaxResults",
    "NextToken",
    "MessageBody",
    "DelaySeconds",
    "ReceiptHandle",
    "VisibilityTimeout",
    "MaxNumberOfMessages",
    "WaitTimeSeconds",
    "ReceiveRequestAttemptId",
    "SourceArn",
    "DestinationArn",
    "MaxNumberOfMessagesPerSecond",
    "TaskHandle",
    "Attribute.1.Name",
    "Attribute.1.Value",
    "Attribute.2.Name",
    "AttributeName.1",
    "AttributeName.2",
    "MessageAttributeName.1",
    "MessageSystemAttributeName.1",
    "Tag.1.Key",
    "Tag.1.Value",
    "TagKey.1",
    "MessageAttribute.1.Name",
    "MessageAttribute.1.Value.DataType",
    "MessageAttribute.1.Value.StringValue",
    "MessageAttribute.1.Value.BinaryValue",
    "MessageSystemAttribute.1.Name",
    "MessageSystemAttribute.1.Value.DataType",
    "SendMessageBatchRequestEntry.1.Id",
    "SendMessageBatchRequestEntry.1.MessageBody",
    "SendMessageBatchRequestEntry.2.Id",
    "SendMessageBatchRequestEntry.11.Id",
    "DeleteMessageBatchRequestEntry.1.Id",
    "DeleteMessageBatchRequestEntry.1.ReceiptHandle",
    "ChangeMessageVisibilityBatchRequestEntry.1.Id",
    "ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout",
    "Attribute.x.Name",
    "Attribute.4294967296.Name",
    "Attribute..Name",
    ".",
    "Entries",
    "Attributes",
    "Tags",
    "TagKeys",
    "AttributeNames",
    "MessageAttributes",
    "Id",
];

fn member_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "http://localhost:4566/000000000000/q", "q", "q.fifo", "0", "-1", "10", "900",
            "43201", "99999999999999999999", "1.5", "true", "String", "Number", "Binary",
            "Number.int", "AAAA", "!!", "All", "VisibilityTimeout", "RedrivePolicy",
            "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:d\",\"maxReceiveCount\":\"x\"}",
            "arn:aws:sqs:us-east-1:000000000000:q", "",
        ])
        .prop_map(String::from),
        "\\PC{0,24}",
    ]
}

/// What must hold for a parse result: a rejected request carries a client-error code and a
/// message, and the protocol's encoder answers with that code's status.
fn check(action: &str, result: Result<SqsRequest, SqsError>) -> Result<(), TestCaseError> {
    let Err(error) = result else {
        return Ok(());
    };
    prop_assert!(error.code != ErrorCode::InternalError, "{:?}", error);
    prop_assert!((400..500).contains(&error.code.status()), "{:?}", error);
    prop_assert!(!error.message.is_empty(), "{:?}", error);
    let status = error.code.status();
    let query = query_protocol::response(action, "r", Err(error.clone()));
    prop_assert_eq!(query.status().as_u16(), status);
    let json = json_protocol::response("r", Err(error));
    prop_assert_eq!(json.status().as_u16(), status);
    Ok(())
}

fn query_request(query: Option<&str>, body: &[u8]) -> Result<(), TestCaseError> {
    let (action, input) = query_protocol::parse_request(query, body);
    prop_assert!(input.is_object());
    match action {
        Some(action) => check(&action, SqsRequest::parse(&action, &input)),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn query_protocol_any_form(
        action in prop::sample::select(ACTIONS),
        params in prop::collection::vec((prop::sample::select(MEMBERS), member_value()), 0..12),
        in_query in any::<bool>(),
    ) {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", action)
            .extend_pairs(params)
            .finish();
        if in_query {
            query_request(Some(&form), b"")?;
        } else {
            query_request(None, form.as_bytes())?;
        }
    }

    #[test]
    fn query_protocol_any_bytes(
        query in prop::option::of("\\PC{0,64}"), body in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        query_request(query.as_deref(), &body)?;
        let mut with_action = b"Action=SendMessage&".to_vec();
        with_action.extend_from_slice(&body);
        query_request(None, &with_action)?;
    }

    #[test]
    fn json_protocol_any_bytes(
        action in prop::sample::select(ACTIONS), body in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        match json_protocol::parse_input(&body) {
            Ok(input) => check(action, SqsRequest::parse(action, &input))?,
            Err(error) => prop_assert_eq!(error.code, ErrorCode::MalformedRequest),
        }
    }

    #[test]
    fn json_protocol_any_members(
        action in prop::sample::select(ACTIONS),
        members in prop::collection::vec((prop::sample::select(MEMBERS), json_member()), 0..10),
    ) {
        let input = Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        let body = input.to_string();
        let parsed = json_protocol::parse_input(body.as_bytes()).unwrap();
        check(action, SqsRequest::parse(action, &parsed))?;
    }
}

/// JSON member values: scalars, and the lists/maps/structures the API uses, with wrong types.
fn json_member() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        member_value().prop_map(Value::from),
    ];
    scalar.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(MEMBERS), inner), 0..4).prop_map(|m| {
                Value::Object(
                    m.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}
