//! The event Lambda's SQS event source mapping sends a function, built from received messages.
//!
//! Shape from "Using Lambda with Amazon SQS" (example standard queue message event,
//! https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
//! `{"Records":[{messageId, receiptHandle, body, attributes{ApproximateReceiveCount,
//! SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp}, messageAttributes{name:
//! {stringValue, binaryValue, stringListValues, binaryListValues, dataType}}, md5OfBody,
//! eventSource:"aws:sqs", eventSourceARN, awsRegion}]}`; `md5OfMessageAttributes` appears when
//! the message has attributes.
//!
//! Hand-built with our own serde structs rather than `aws_lambda_events::sqs::SqsEvent`: that
//! type serializes absent values as `null` (e.g. `"binaryValue": null`), where Lambda leaves the
//! key out. The tests check the result parses as `aws_lambda_events`'s `SqsEvent`, which is what
//! Rust handlers deserialize.

use std::collections::BTreeMap;

use base64::Engine;
use emulator_sqs::{MessageAttributeValue, ReceivedMessage};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsRecord>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    pub message_attributes: BTreeMap<String, SqsRecordAttribute>,
    pub md5_of_body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5_of_message_attributes: Option<String>,
    pub event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    pub event_source_arn: String,
    pub aws_region: String,
}

/// A message attribute in Lambda's lower-camel shape. SQS itself never fills the list values
/// (reserved for future use), and Lambda sends them as empty lists.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecordAttribute {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Base64, as in the JSON protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
    pub string_list_values: Vec<String>,
    pub binary_list_values: Vec<String>,
    pub data_type: String,
}

/// System attributes a Lambda SQS record carries (plus AWSTraceHeader when the sender set one).
const RECORD_ATTRIBUTES: &[&str] = &[
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
];

/// The event for one batch of messages from the queue `queue_arn`.
pub fn build(messages: &[ReceivedMessage], queue_arn: &str, region: &str) -> SqsEvent {
    SqsEvent {
        records: messages
            .iter()
            .map(|m| record(m, queue_arn, region))
            .collect(),
    }
}

fn record(message: &ReceivedMessage, queue_arn: &str, region: &str) -> SqsRecord {
    let attributes = message
        .attributes
        .iter()
        .filter(|(k, _)| RECORD_ATTRIBUTES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    SqsRecord {
        message_id: message.message_id.clone(),
        receipt_handle: message.receipt_handle.clone(),
        body: message.body.clone(),
        attributes,
        message_attributes: message
            .message_attributes
            .iter()
            .map(|(name, value)| (name.clone(), attribute(value)))
            .collect(),
        md5_of_body: message.md5_of_body.clone(),
        md5_of_message_attributes: emulator_sqs::md5::md5_of_attributes(
            &message.message_attributes,
        ),
        event_source: "aws:sqs",
        event_source_arn: queue_arn.to_owned(),
        aws_region: region.to_owned(),
    }
}

fn attribute(value: &MessageAttributeValue) -> SqsRecordAttribute {
    let binary = value.is_binary();
    SqsRecordAttribute {
        string_value: if binary {
            None
        } else {
            value.string_value.clone()
        },
        binary_value: if binary {
            value
                .binary_value
                .as_ref()
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
        } else {
            None
        },
        string_list_values: Vec::new(),
        binary_list_values: Vec::new(),
        data_type: value.data_type.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_has_lambdas_keys_and_attribute_shapes() {
        let message = ReceivedMessage {
            message_id: "id-1".into(),
            receipt_handle: "rh".into(),
            body: "hello".into(),
            md5_of_body: "5d41402abc4b2a76b9719d911017c592".into(),
            attributes: BTreeMap::from([
                ("ApproximateReceiveCount".into(), "1".into()),
                ("SentTimestamp".into(), "1545082649183".into()),
                ("SenderId".into(), "AIDAIENQZJOLO23YVJ4VO".into()),
                (
                    "ApproximateFirstReceiveTimestamp".into(),
                    "1545082649185".into(),
                ),
                ("MessageGroupId".into(), "not-for-standard-queues".into()),
            ]),
            message_attributes: BTreeMap::from([
                (
                    "text".into(),
                    MessageAttributeValue {
                        data_type: "String".into(),
                        string_value: Some("v".into()),
                        binary_value: None,
                    },
                ),
                (
                    "blob".into(),
                    MessageAttributeValue {
                        data_type: "Binary.gz".into(),
                        string_value: None,
                        binary_value: Some(vec![1, 2, 3]),
                    },
                ),
            ]),
        };
        let event = serde_json::to_value(build(
            &[message],
            "arn:aws:sqs:us-east-1:000000000000:q",
            "us-east-1",
        ))
        .unwrap();
        let record = &event["Records"][0];
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(
            record["eventSourceARN"],
            "arn:aws:sqs:us-east-1:000000000000:q"
        );
        assert_eq!(record["attributes"].as_object().unwrap().len(), 4);
        assert_eq!(
            record["messageAttributes"]["text"],
            serde_json::json!({"stringValue":"v","stringListValues":[],"binaryListValues":[],"dataType":"String"})
        );
        assert_eq!(
            record["messageAttributes"]["blob"],
            serde_json::json!({"binaryValue":"AQID","stringListValues":[],"binaryListValues":[],"dataType":"Binary.gz"})
        );
        assert_eq!(record["md5OfMessageAttributes"].as_str().unwrap().len(), 32);
    }
}
