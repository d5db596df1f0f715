//! Queue configuration attributes: defaults, validation and their string form.
//!
//! Ranges and defaults are those of CreateQueue/SetQueueAttributes in the SQS API reference
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html).
//! The API reference now gives MaximumMessageSize a default of 1,048,576 bytes (1 MiB), the
//! new SQS limit; older documents say 262,144.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::errors::{ErrorCode, SqsError};

pub const DEFAULT_VISIBILITY_TIMEOUT: u32 = 30;
pub const MAX_VISIBILITY_TIMEOUT: u32 = 43_200;
pub const DEFAULT_MAXIMUM_MESSAGE_SIZE: u32 = 1_048_576;
pub const DEFAULT_RETENTION_PERIOD: u32 = 345_600;
pub const MAX_DELAY_SECONDS: u32 = 900;
pub const MAX_WAIT_TIME_SECONDS: u32 = 20;

/// A parsed `RedrivePolicy`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    /// The canonical JSON form GetQueueAttributes returns.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }
}

/// The settable attributes of a standard queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueConfig {
    pub visibility_timeout: u32,
    pub maximum_message_size: u32,
    pub message_retention_period: u32,
    pub delay_seconds: u32,
    pub receive_message_wait_time_seconds: u32,
    pub redrive_policy: Option<RedrivePolicy>,
    /// Attributes stored as given and only echoed back (Policy, RedriveAllowPolicy, KMS/SSE).
    pub passthrough: BTreeMap<String, String>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        let mut passthrough = BTreeMap::new();
        // SSE-SQS is on by default for new queues.
        passthrough.insert("SqsManagedSseEnabled".to_string(), "true".to_string());
        Self {
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            maximum_message_size: DEFAULT_MAXIMUM_MESSAGE_SIZE,
            message_retention_period: DEFAULT_RETENTION_PERIOD,
            delay_seconds: 0,
            receive_message_wait_time_seconds: 0,
            redrive_policy: None,
            passthrough,
        }
    }
}

/// Checks a proposed dead-letter target for the queue being configured: the DLQ must exist and
/// its RedriveAllowPolicy must admit the source.
pub type DeadLetterCheck<'a> = &'a dyn Fn(&str) -> Result<(), SqsError>;

impl QueueConfig {
    /// Validates one attribute and applies it.
    pub fn apply(
        &mut self,
        name: &str,
        value: &str,
        check_dead_letter_target: DeadLetterCheck<'_>,
    ) -> Result<(), SqsError> {
        match name {
            "VisibilityTimeout" => {
                self.visibility_timeout = ranged(name, value, 0, MAX_VISIBILITY_TIMEOUT)?
            }
            "MaximumMessageSize" => {
                self.maximum_message_size = ranged(name, value, 1024, 1_048_576)?
            }
            "MessageRetentionPeriod" => {
                self.message_retention_period = ranged(name, value, 60, 1_209_600)?
            }
            "DelaySeconds" => self.delay_seconds = ranged(name, value, 0, MAX_DELAY_SECONDS)?,
            "ReceiveMessageWaitTimeSeconds" => {
                self.receive_message_wait_time_seconds =
                    ranged(name, value, 0, MAX_WAIT_TIME_SECONDS)?
            }
            "RedrivePolicy" => {
                self.redrive_policy = if value.is_empty() {
                    None
                } else {
                    let policy = parse_redrive_policy(value)?;
                    check_dead_letter_target(&policy.dead_letter_target_arn)?;
                    Some(policy)
                };
            }
            "FifoQueue" => {
                if !value.eq_ignore_ascii_case("false") {
                    return Err(SqsError::invalid_attribute_value(
                        name,
                        Some("FIFO queues are not supported by this emulator; create a standard queue."),
                    ));
                }
            }
            _ => self.apply_passthrough(name, value)?,
        }
        Ok(())
    }

    /// The attributes stored as given (after validation) and only echoed back; an empty
    /// policy removes it.
    fn apply_passthrough(&mut self, name: &str, value: &str) -> Result<(), SqsError> {
        let stored = match name {
            "RedriveAllowPolicy" | "Policy" if value.is_empty() => {
                self.passthrough.remove(name);
                return Ok(());
            }
            "RedriveAllowPolicy" => {
                validate_redrive_allow_policy(value)?;
                value.to_string()
            }
            "Policy" => {
                serde_json::from_str::<Value>(value)
                    .map_err(|_| SqsError::invalid_attribute_value(name, None))?;
                value.to_string()
            }
            "KmsMasterKeyId" => value.to_string(),
            "KmsDataKeyReusePeriodSeconds" => ranged(name, value, 60, 86_400)?.to_string(),
            "SqsManagedSseEnabled" => match value.to_ascii_lowercase().as_str() {
                "true" => "true".to_string(),
                "false" => "false".to_string(),
                _ => return Err(SqsError::invalid_attribute_value(name, None)),
            },
            _ => {
                return Err(SqsError::new(
                    ErrorCode::InvalidAttributeName,
                    format!("Unknown Attribute {name}."),
                ))
            }
        };
        self.passthrough.insert(name.to_string(), stored);
        Ok(())
    }

    /// The configuration attributes as GetQueueAttributes returns them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = self.passthrough.clone();
        map.insert(
            "VisibilityTimeout".into(),
            self.visibility_timeout.to_string(),
        );
        map.insert(
            "MaximumMessageSize".into(),
            self.maximum_message_size.to_string(),
        );
        map.insert(
            "MessageRetentionPeriod".into(),
            self.message_retention_period.to_string(),
        );
        map.insert("DelaySeconds".into(), self.delay_seconds.to_string());
        map.insert(
            "ReceiveMessageWaitTimeSeconds".into(),
            self.receive_message_wait_time_seconds.to_string(),
        );
        if let Some(policy) = &self.redrive_policy {
            map.insert("RedrivePolicy".into(), policy.to_json());
        }
        map
    }
}

fn ranged(name: &str, value: &str, min: u32, max: u32) -> Result<u32, SqsError> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| SqsError::invalid_attribute_value(name, None))
}

/// Parses `{"deadLetterTargetArn": "...", "maxReceiveCount": 1..=1000}`; the count may be a
/// number or a numeric string, as AWS accepts both.
fn parse_redrive_policy(value: &str) -> Result<RedrivePolicy, SqsError> {
    let invalid = |reason: &str| SqsError::invalid_attribute_value("RedrivePolicy", Some(reason));
    let json: Value = serde_json::from_str(value)
        .map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
    let arn = json
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .filter(|arn| !arn.is_empty())
        .ok_or_else(|| {
            invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match json.get("maxReceiveCount") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
        None => {
            return Err(invalid(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ))
        }
    };
    let count = count.filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
        invalid(
            "Invalid value for maxReceiveCount, valid values are from 1 to 1000 both inclusive.",
        )
    })?;
    Ok(RedrivePolicy {
        dead_letter_target_arn: arn.to_string(),
        max_receive_count: count as u32,
    })
}

/// `{"redrivePermission": "allowAll"|"denyAll"|"byQueue", "sourceQueueArns": [..<=10]}`.
fn validate_redrive_allow_policy(value: &str) -> Result<(), SqsError> {
    let invalid =
        |reason: &str| SqsError::invalid_attribute_value("RedriveAllowPolicy", Some(reason));
    let json: Value =
        serde_json::from_str(value).map_err(|_| invalid("Policy is not a valid JSON map."))?;
    let permission = json
        .get("redrivePermission")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("redrivePermission is required."))?;
    let sources = json.get("sourceQueueArns");
    match permission {
        "allowAll" | "denyAll" if sources.is_some() => Err(invalid(
            "sourceQueueArns can be specified only when redrivePermission is byQueue.",
        )),
        "allowAll" | "denyAll" => Ok(()),
        "byQueue" => match sources.and_then(Value::as_array) {
            Some(arns) if !arns.is_empty() && arns.len() <= 10 => Ok(()),
            _ => Err(invalid(
                "sourceQueueArns must list 1 to 10 queue ARNs when redrivePermission is byQueue.",
            )),
        },
        _ => Err(invalid(
            "redrivePermission must be one of allowAll, denyAll, byQueue.",
        )),
    }
}

/// Whether a DLQ's RedriveAllowPolicy admits `source_arn` as a source queue.
pub fn redrive_allowed(allow_policy: Option<&str>, source_arn: &str) -> bool {
    let Some(policy) = allow_policy else {
        return true;
    };
    let Ok(json) = serde_json::from_str::<Value>(policy) else {
        return true;
    };
    match json.get("redrivePermission").and_then(Value::as_str) {
        Some("denyAll") => false,
        Some("byQueue") => json
            .get("sourceQueueArns")
            .and_then(Value::as_array)
            .is_some_and(|arns| arns.iter().any(|arn| arn.as_str() == Some(source_arn))),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(_: &str) -> Result<(), SqsError> {
        Ok(())
    }

    #[test]
    fn ranges_are_enforced() {
        let mut config = QueueConfig::default();
        assert!(config.apply("VisibilityTimeout", "43200", &accept).is_ok());
        let err = config
            .apply("VisibilityTimeout", "43201", &accept)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidAttributeValue);
        assert!(config.apply("MaximumMessageSize", "1023", &accept).is_err());
        assert!(config.apply("DelaySeconds", "abc", &accept).is_err());
        let err = config.apply("Nope", "1", &accept).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidAttributeName);
    }

    #[test]
    fn redrive_policy_parsing() {
        let mut config = QueueConfig::default();
        config
            .apply(
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:0:d","maxReceiveCount":"3"}"#,
                &accept,
            )
            .unwrap();
        assert_eq!(config.redrive_policy.as_ref().unwrap().max_receive_count, 3);
        assert!(config
            .apply(
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"x","maxReceiveCount":1001}"#,
                &accept
            )
            .is_err());
        config.apply("RedrivePolicy", "", &accept).unwrap();
        assert!(config.redrive_policy.is_none());
    }

    #[test]
    fn passthrough_attributes_are_validated_stored_and_removed() {
        let mut config = QueueConfig::default();
        config
            .apply("Policy", r#"{"Version":"2012-10-17"}"#, &accept)
            .unwrap();
        assert!(config.passthrough.contains_key("Policy"));
        config.apply("Policy", "", &accept).unwrap();
        assert!(!config.passthrough.contains_key("Policy"));
        assert!(config.apply("Policy", "{", &accept).is_err());
        config
            .apply("SqsManagedSseEnabled", "FALSE", &accept)
            .unwrap();
        assert_eq!(config.passthrough["SqsManagedSseEnabled"], "false");
        config
            .apply("KmsDataKeyReusePeriodSeconds", " 300", &accept)
            .unwrap();
        assert_eq!(config.passthrough["KmsDataKeyReusePeriodSeconds"], "300");
        let err = config
            .apply(
                "RedriveAllowPolicy",
                r#"{"redrivePermission":"byQueue"}"#,
                &accept,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidAttributeValue);
        assert!(config.apply("FifoQueue", "true", &accept).is_err());
        config.apply("FifoQueue", "false", &accept).unwrap();
    }

    #[test]
    fn allow_policy() {
        assert!(redrive_allowed(None, "a"));
        assert!(!redrive_allowed(
            Some(r#"{"redrivePermission":"denyAll"}"#),
            "a"
        ));
        let by_queue = r#"{"redrivePermission":"byQueue","sourceQueueArns":["a"]}"#;
        assert!(redrive_allowed(Some(by_queue), "a"));
        assert!(!redrive_allowed(Some(by_queue), "b"));
    }
}
