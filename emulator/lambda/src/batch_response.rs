//! Reading a function's partial batch response (`ReportBatchItemFailures`).
//!
//! Rules from "Handling errors for an SQS event source in Lambda", section "Implementing partial
//! batch responses" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting):
//! - complete success: an empty or null `batchItemFailures` list, an empty or null response;
//! - complete failure: an invalid JSON response, an empty-string or null `itemIdentifier`, an
//!   item with a bad key name (so no `itemIdentifier`), an `itemIdentifier` that is not a message
//!   id of the batch;
//! - a function error (or timeout) fails the whole batch, whatever the setting.
//!
//! Without `ReportBatchItemFailures` the response is ignored: a successful invocation deletes the
//! whole batch ("Lambda doesn't use these responses unless ReportBatchItemFailures is turned on").

use std::collections::BTreeSet;

use serde_json::Value;

/// Which messages of a batch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    AllSucceeded,
    /// The whole batch failed, for this reason.
    AllFailed(String),
    /// Only these message ids failed.
    Partial(BTreeSet<String>),
}

impl BatchOutcome {
    /// Whether the message with this id is to be deleted.
    pub fn succeeded(&self, message_id: &str) -> bool {
        match self {
            Self::AllSucceeded => true,
            Self::AllFailed(_) => false,
            Self::Partial(failed) => !failed.contains(message_id),
        }
    }
}

/// Interprets a successful invocation's response for a batch with these message ids.
pub fn interpret(response: &[u8], message_ids: &[&str]) -> BatchOutcome {
    if response.iter().all(u8::is_ascii_whitespace) {
        return BatchOutcome::AllSucceeded;
    }
    let value: Value = match serde_json::from_slice(response) {
        Ok(value) => value,
        Err(err) => return BatchOutcome::AllFailed(format!("invalid JSON response: {err}")),
    };
    // A response that is not an object carries no batchItemFailures: the list is null.
    let Some(failures) = value.as_object().and_then(|o| o.get("batchItemFailures")) else {
        return BatchOutcome::AllSucceeded;
    };
    let items = match failures {
        Value::Null => return BatchOutcome::AllSucceeded,
        Value::Array(items) if items.is_empty() => return BatchOutcome::AllSucceeded,
        Value::Array(items) => items,
        other => {
            return BatchOutcome::AllFailed(format!("batchItemFailures is not a list: {other}"))
        }
    };
    let mut failed = BTreeSet::new();
    for item in items {
        match item.get("itemIdentifier") {
            Some(Value::String(id)) if id.is_empty() => {
                return BatchOutcome::AllFailed("an itemIdentifier is empty".into())
            }
            Some(Value::String(id)) if message_ids.contains(&id.as_str()) => {
                failed.insert(id.clone());
            }
            Some(Value::String(id)) => {
                return BatchOutcome::AllFailed(format!(
                    "itemIdentifier {id} is not a message of the batch"
                ))
            }
            Some(Value::Null) | None => {
                return BatchOutcome::AllFailed(format!("an item has no itemIdentifier: {item}"))
            }
            Some(other) => {
                return BatchOutcome::AllFailed(format!("itemIdentifier is not a string: {other}"))
            }
        }
    }
    BatchOutcome::Partial(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &[&str] = &["a", "b", "c"];

    fn outcome(response: &str) -> BatchOutcome {
        interpret(response.as_bytes(), IDS)
    }

    #[test]
    fn empty_or_null_means_everything_succeeded() {
        for response in [
            "",
            "null",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
            r#""done""#,
        ] {
            assert_eq!(outcome(response), BatchOutcome::AllSucceeded, "{response}");
        }
    }

    #[test]
    fn listed_ids_fail_and_the_rest_succeed() {
        let result =
            outcome(r#"{"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":"b"}]}"#);
        assert_eq!(
            result,
            BatchOutcome::Partial(BTreeSet::from(["b".to_owned()]))
        );
        assert!(result.succeeded("a") && !result.succeeded("b") && result.succeeded("c"));
    }

    #[test]
    fn bad_items_fail_the_whole_batch() {
        for response in [
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifer":"a"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"zzz"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":7}]}"#,
            r#"{"batchItemFailures":"a"}"#,
            "{not json",
        ] {
            assert!(
                matches!(outcome(response), BatchOutcome::AllFailed(_)),
                "{response}"
            );
            assert!(!outcome(response).succeeded("a"));
        }
    }
}
