//! Each operation's input as a typed request, parsed and validated before any state is touched.
//!
//! Both wire protocols decode a request into the awsJson1_0 input shape (a JSON object with the
//! API's member names, see `input`); [`SqsRequest::parse`] turns that into one of the structs
//! below, so the operations (one file per family) never read raw input and the two protocols
//! share every check. Checks that need state (does the queue exist, is the dead-letter target
//! allowed) stay with the operations.

use std::collections::{BTreeMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::errors::{ErrorCode, SqsError};
use crate::input;
use crate::messages::{message_size, parse_new_message, NewMessage};
use crate::state::config::{MAX_VISIBILITY_TIMEOUT, MAX_WAIT_TIME_SECONDS};

/// Largest batch, and largest total payload of SendMessageBatch (1 MiB).
const MAX_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 1_048_576;

/// Attributes GetQueueAttributes computes rather than stores.
const COMPUTED_ATTRIBUTES: [&str; 6] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// Configuration attributes a standard queue may report (present only when set, for the
/// optional ones).
const CONFIGURABLE_ATTRIBUTES: [&str; 11] = [
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];

/// One parsed SQS request.
#[derive(Debug)]
pub enum SqsRequest {
    CreateQueue(CreateQueue),
    GetQueueUrl {
        queue_name: String,
    },
    ListQueues(ListQueues),
    DeleteQueue {
        queue: String,
    },
    PurgeQueue {
        queue: String,
    },
    TagQueue {
        queue: String,
        tags: Tags,
    },
    UntagQueue {
        queue: String,
        keys: Vec<String>,
    },
    ListQueueTags {
        queue: String,
    },
    ListDeadLetterSourceQueues {
        queue: String,
    },
    GetQueueAttributes {
        queue: String,
        names: Vec<String>,
    },
    SetQueueAttributes {
        queue: String,
        attributes: Tags,
    },
    SendMessage {
        queue: String,
        message: NewMessage,
    },
    ReceiveMessage(ReceiveMessage),
    DeleteMessage {
        queue: String,
        receipt_handle: String,
    },
    ChangeMessageVisibility(ChangeVisibility),
    SendMessageBatch(Batch<NewMessage>),
    DeleteMessageBatch(Batch<String>),
    ChangeMessageVisibilityBatch(Batch<ChangeVisibility>),
    StartMessageMoveTask(StartMoveTask),
    ListMessageMoveTasks {
        source_arn: String,
        max: usize,
    },
    CancelMessageMoveTask {
        task_handle: String,
    },
}

/// String-to-string attributes or tags.
pub type Tags = BTreeMap<String, String>;

#[derive(Debug)]
pub struct CreateQueue {
    pub name: String,
    pub attributes: Tags,
    pub tags: Tags,
}

#[derive(Debug)]
pub struct ListQueues {
    pub prefix: String,
    /// MaxResults: when given, the reply pages with NextToken.
    pub max_results: Option<usize>,
    /// The last name of the previous page (from NextToken).
    pub after: Option<String>,
}

#[derive(Debug)]
pub struct ReceiveMessage {
    pub queue: String,
    pub max: usize,
    pub visibility_seconds: Option<u64>,
    /// None: the queue's ReceiveMessageWaitTimeSeconds.
    pub wait_seconds: Option<u64>,
    /// System attributes asked for (AttributeNames and MessageSystemAttributeNames).
    pub system_attribute_names: Vec<String>,
    pub message_attribute_names: Vec<String>,
}

#[derive(Debug)]
pub struct ChangeVisibility {
    /// The queue (empty in a batch entry: the batch names it).
    pub queue: String,
    pub receipt_handle: String,
    pub timeout: i64,
}

/// A batch request: each entry's Id with the entry parsed, or why it failed on its own (an
/// entry error goes to `Failed`, not to the whole request).
#[derive(Debug)]
pub struct Batch<T> {
    pub queue: String,
    pub entries: Vec<(String, Result<T, SqsError>)>,
}

#[derive(Debug)]
pub struct StartMoveTask {
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_per_second: Option<u32>,
}

impl SqsRequest {
    /// Parses the input of operation `op` (the `x-amz-target` suffix or the `Action`).
    pub fn parse(op: &str, input: &Value) -> Result<Self, SqsError> {
        Ok(match op {
            "CreateQueue" => Self::CreateQueue(create_queue(input)?),
            "GetQueueUrl" => Self::GetQueueUrl {
                queue_name: input::str_req(input, "QueueName")?.to_owned(),
            },
            "ListQueues" => Self::ListQueues(list_queues(input)?),
            "DeleteQueue" => Self::DeleteQueue {
                queue: queue(input)?,
            },
            "PurgeQueue" => Self::PurgeQueue {
                queue: queue(input)?,
            },
            "TagQueue" => Self::TagQueue {
                queue: queue(input)?,
                tags: input::str_map(input, "Tags")?,
            },
            "UntagQueue" => Self::UntagQueue {
                queue: queue(input)?,
                keys: input::str_list(input, "TagKeys")?,
            },
            "ListQueueTags" => Self::ListQueueTags {
                queue: queue(input)?,
            },
            "ListDeadLetterSourceQueues" => Self::ListDeadLetterSourceQueues {
                queue: queue(input)?,
            },
            "GetQueueAttributes" => get_queue_attributes(input)?,
            "SetQueueAttributes" => set_queue_attributes(input)?,
            "SendMessage" => Self::SendMessage {
                queue: queue(input)?,
                message: parse_new_message(input)?,
            },
            "ReceiveMessage" => Self::ReceiveMessage(receive_message(input)?),
            "DeleteMessage" => Self::DeleteMessage {
                queue: queue(input)?,
                receipt_handle: input::str_req(input, "ReceiptHandle")?.to_owned(),
            },
            "ChangeMessageVisibility" => Self::ChangeMessageVisibility(ChangeVisibility {
                queue: queue(input)?,
                ..change_visibility(input)?
            }),
            "SendMessageBatch" => Self::SendMessageBatch(send_message_batch(input)?),
            "DeleteMessageBatch" => {
                Self::DeleteMessageBatch(batch(input, "DeleteMessageBatchRequestEntry", |entry| {
                    Ok(input::str_req(entry, "ReceiptHandle")?.to_owned())
                })?)
            }
            "ChangeMessageVisibilityBatch" => Self::ChangeMessageVisibilityBatch(batch(
                input,
                "ChangeMessageVisibilityBatchRequestEntry",
                change_visibility,
            )?),
            "StartMessageMoveTask" => Self::StartMessageMoveTask(start_move_task(input)?),
            "ListMessageMoveTasks" => Self::ListMessageMoveTasks {
                source_arn: input::str_req(input, "SourceArn")?.to_owned(),
                max: input::ranged_int(input, "MaxResults", 1, 10, "Must be between 1 and 10.")?
                    .unwrap_or(1) as usize,
            },
            "CancelMessageMoveTask" => Self::CancelMessageMoveTask {
                task_handle: input::str_req(input, "TaskHandle")?.to_owned(),
            },
            "AddPermission" | "RemovePermission" => {
                return Err(SqsError::new(
                    ErrorCode::UnsupportedOperation,
                    format!("{op} is not supported by this emulator."),
                ))
            }
            _ => {
                return Err(SqsError::new(
                    ErrorCode::InvalidAction,
                    format!("The action {op} is not valid for this endpoint."),
                ))
            }
        })
    }
}

/// The queue a request names by `QueueUrl`.
fn queue(input: &Value) -> Result<String, SqsError> {
    let url = input::str_req(input, "QueueUrl")?;
    Ok(input::queue_name_from_url(url).to_owned())
}

fn create_queue(input: &Value) -> Result<CreateQueue, SqsError> {
    let name = input::str_req(input, "QueueName")?.to_owned();
    let attributes = input::str_map(input, "Attributes")?;
    // awsJson1_0 names the member `tags`; the query form is rebuilt as `Tags`.
    let mut tags = input::str_map(input, "tags")?;
    tags.extend(input::str_map(input, "Tags")?);
    Ok(CreateQueue {
        name,
        attributes,
        tags,
    })
}

/// ListQueues: up to 1,000 URLs; with MaxResults (1..=1000) it pages with NextToken.
fn list_queues(input: &Value) -> Result<ListQueues, SqsError> {
    let prefix = input::str_opt(input, "QueueNamePrefix")?
        .unwrap_or("")
        .to_owned();
    let max_results =
        input::ranged_int(input, "MaxResults", 1, 1000, "Must be between 1 and 1000.")?
            .map(|n| n as usize);
    let after = match input::str_opt(input, "NextToken")? {
        Some(token) => Some(
            URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    SqsError::invalid_parameter("NextToken", token, "Invalid NextToken value.")
                })?,
        ),
        None => None,
    };
    Ok(ListQueues {
        prefix,
        max_results,
        after,
    })
}

/// The NextToken that continues a ListQueues after `last`.
pub fn list_queues_token(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn get_queue_attributes(input: &Value) -> Result<SqsRequest, SqsError> {
    let queue = queue(input)?;
    let names = input::str_list(input, "AttributeNames")?;
    let known = |n: &str| {
        n == "All" || COMPUTED_ATTRIBUTES.contains(&n) || CONFIGURABLE_ATTRIBUTES.contains(&n)
    };
    if let Some(unknown) = names.iter().find(|n| !known(n)) {
        return Err(SqsError::new(
            ErrorCode::InvalidAttributeName,
            format!("Unknown Attribute {unknown}."),
        ));
    }
    Ok(SqsRequest::GetQueueAttributes { queue, names })
}

fn set_queue_attributes(input: &Value) -> Result<SqsRequest, SqsError> {
    let queue = queue(input)?;
    let attributes = input::str_map(input, "Attributes")?;
    if attributes.is_empty() {
        return Err(SqsError::missing("Attributes"));
    }
    Ok(SqsRequest::SetQueueAttributes { queue, attributes })
}

fn receive_message(input: &Value) -> Result<ReceiveMessage, SqsError> {
    let queue = queue(input)?;
    let max = input::ranged_int(
        input,
        "MaxNumberOfMessages",
        1,
        10,
        "Must be between 1 and 10, if provided.",
    )?
    .unwrap_or(1) as usize;
    let visibility_seconds = input::ranged_int(
        input,
        "VisibilityTimeout",
        0,
        i64::from(MAX_VISIBILITY_TIMEOUT),
        "Must be between 0 and 43200, if provided.",
    )?
    .map(|s| s as u64);
    let wait_seconds = input::ranged_int(
        input,
        "WaitTimeSeconds",
        0,
        i64::from(MAX_WAIT_TIME_SECONDS),
        "Must be >= 0 and <= 20, if provided.",
    )?
    .map(|s| s as u64);
    let mut system_attribute_names = input::str_list(input, "AttributeNames")?;
    system_attribute_names.extend(input::str_list(input, "MessageSystemAttributeNames")?);
    Ok(ReceiveMessage {
        queue,
        max,
        visibility_seconds,
        wait_seconds,
        system_attribute_names,
        message_attribute_names: input::str_list(input, "MessageAttributeNames")?,
    })
}

/// ReceiptHandle and VisibilityTimeout of a ChangeMessageVisibility request or batch entry
/// (the range is checked with the change, which the in-process API shares).
fn change_visibility(input: &Value) -> Result<ChangeVisibility, SqsError> {
    let receipt_handle = input::str_req(input, "ReceiptHandle")?.to_owned();
    let timeout = input::int_opt(input, "VisibilityTimeout")?
        .ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
    Ok(ChangeVisibility {
        queue: String::new(),
        receipt_handle,
        timeout,
    })
}

/// SendMessageBatch: the entries, and a total payload of at most 1 MiB.
fn send_message_batch(input: &Value) -> Result<Batch<NewMessage>, SqsError> {
    let batch = batch(input, "SendMessageBatchRequestEntry", parse_new_message)?;
    let total: usize = batch
        .entries
        .iter()
        .filter_map(|(_, message)| message.as_ref().ok())
        .map(message_size)
        .sum();
    if total > MAX_BATCH_BYTES {
        return Err(SqsError::new(
            ErrorCode::BatchRequestTooLong,
            format!("Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."),
        ));
    }
    Ok(batch)
}

/// A batch request's queue and entries. SqsRequest-level problems (EmptyBatchRequest,
/// TooManyEntriesInBatchRequest, InvalidBatchEntryId, BatchEntryIdsNotDistinct) fail the whole
/// request; an entry `parse_entry` refuses fails on its own
/// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
fn batch<T>(
    input: &Value,
    entry_name: &str,
    parse_entry: impl Fn(&Value) -> Result<T, SqsError>,
) -> Result<Batch<T>, SqsError> {
    let queue = queue(input)?;
    let entries = input::list(input, "Entries")?;
    if entries.is_empty() {
        return Err(SqsError::new(
            ErrorCode::EmptyBatchRequest,
            format!("There should be at least one {entry_name} in the request."),
        ));
    }
    if entries.len() > MAX_ENTRIES {
        return Err(SqsError::new(
            ErrorCode::TooManyEntriesInBatchRequest,
            format!(
                "Maximum number of entries per request are {MAX_ENTRIES}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = batch_entry_id(entry)?;
        if !seen.insert(id) {
            return Err(SqsError::new(
                ErrorCode::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
        parsed.push((id.to_owned(), parse_entry(entry)));
    }
    Ok(Batch {
        queue,
        entries: parsed,
    })
}

/// A batch entry's Id: "alphanumeric characters, hyphens (-) and underscores (_)", up to 80
/// (quotas-messages).
fn batch_entry_id(entry: &Value) -> Result<&str, SqsError> {
    let id = input::str_req(entry, "Id")?;
    let valid = !id.is_empty()
        && id.len() <= 80
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(id)
    } else {
        Err(SqsError::new(
            ErrorCode::InvalidBatchEntryId,
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
        ))
    }
}

fn start_move_task(input: &Value) -> Result<StartMoveTask, SqsError> {
    let source_arn = input::str_req(input, "SourceArn")?.to_owned();
    let destination_arn = input::str_opt(input, "DestinationArn")?.map(str::to_owned);
    let max_per_second = input::ranged_int(
        input,
        "MaxNumberOfMessagesPerSecond",
        1,
        500,
        "Must be between 1 and 500.",
    )?
    .map(|n| n as u32);
    Ok(StartMoveTask {
        source_arn,
        destination_arn,
        max_per_second,
    })
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "http://localhost:4566/000000000000/orders";

    #[test]
    fn queue_is_named_by_the_last_segment_of_its_url() {
        let request = SqsRequest::parse("PurgeQueue", &json!({ "QueueUrl": URL })).unwrap();
        assert!(matches!(request, SqsRequest::PurgeQueue { queue } if queue == "orders"));
        let err = SqsRequest::parse("PurgeQueue", &json!({})).unwrap_err();
        assert_eq!(err.code, ErrorCode::MissingParameter);
    }

    #[test]
    fn unknown_and_unsupported_operations() {
        let err = SqsRequest::parse("Nope", &json!({})).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidAction);
        let err = SqsRequest::parse("AddPermission", &json!({})).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedOperation);
    }

    #[test]
    fn receive_message_ranges_are_checked_before_anything_runs() {
        let input = json!({ "QueueUrl": URL, "MaxNumberOfMessages": 11 });
        let err = SqsRequest::parse("ReceiveMessage", &input).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue);
        let input = json!({ "QueueUrl": URL, "WaitTimeSeconds": "5", "AttributeNames": ["All"] });
        let SqsRequest::ReceiveMessage(receive) =
            SqsRequest::parse("ReceiveMessage", &input).unwrap()
        else {
            panic!("not a ReceiveMessage");
        };
        assert_eq!((receive.max, receive.wait_seconds), (1, Some(5)));
        assert_eq!(receive.system_attribute_names, vec!["All".to_string()]);
    }

    #[test]
    fn batch_entries_fail_alone_but_ids_fail_the_request() {
        let input = json!({ "QueueUrl": URL, "Entries": [
            {"Id": "a", "ReceiptHandle": "h"},
            {"Id": "b"},
        ]});
        let SqsRequest::DeleteMessageBatch(batch) =
            SqsRequest::parse("DeleteMessageBatch", &input).unwrap()
        else {
            panic!("not a DeleteMessageBatch");
        };
        assert_eq!(batch.entries[0], ("a".to_string(), Ok("h".to_string())));
        assert_eq!(
            batch.entries[1].1.as_ref().unwrap_err().code,
            ErrorCode::MissingParameter
        );
        let repeated = json!({ "QueueUrl": URL, "Entries": [
            {"Id": "a", "ReceiptHandle": "h"},
            {"Id": "a", "ReceiptHandle": "h"},
        ]});
        let err = SqsRequest::parse("DeleteMessageBatch", &repeated).unwrap_err();
        assert_eq!(err.code, ErrorCode::BatchEntryIdsNotDistinct);
        let empty = json!({ "QueueUrl": URL, "Entries": [] });
        let err = SqsRequest::parse("DeleteMessageBatch", &empty).unwrap_err();
        assert_eq!(err.code, ErrorCode::EmptyBatchRequest);
        let bad_id = json!({ "QueueUrl": URL, "Entries": [{"Id": "a b", "ReceiptHandle": "h"}] });
        let err = SqsRequest::parse("DeleteMessageBatch", &bad_id).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidBatchEntryId);
    }

    #[test]
    fn unknown_queue_attribute_names_are_refused() {
        let input = json!({ "QueueUrl": URL, "AttributeNames": ["QueueArn", "Colour"] });
        let err = SqsRequest::parse("GetQueueAttributes", &input).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidAttributeName);
        let input = json!({ "QueueUrl": URL, "Attributes": {} });
        let err = SqsRequest::parse("SetQueueAttributes", &input).unwrap_err();
        assert_eq!(err.code, ErrorCode::MissingParameter);
    }
}
