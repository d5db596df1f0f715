//! AWS naming rules the config is checked against (also usable by the emulator). Each function
//! returns `Err(reason)` naming the broken rule.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

/// S3 general purpose bucket names.
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    check_length("bucket name", name, 3..=63)?;
    check_characters(
        "bucket name",
        name,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-',
        "lowercase letters, digits, '.' and '-'",
    )?;
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Err("bucket name must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Err("bucket name must not contain two adjacent periods".into());
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Err("bucket name must not be formatted as an IP address".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!(
                "bucket name must not start with the reserved prefix {prefix:?}"
            ));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3"] {
        if name.ends_with(suffix) {
            return Err(format!(
                "bucket name must not end with the reserved suffix {suffix:?}"
            ));
        }
    }
    Ok(())
}

/// SQS queue names: 1 to 80 characters, alphanumeric, `-` and `_`; the pipeline's queues are
/// standard queues (S3 notifications cannot target FIFO), so `.fifo` is refused too.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html>
pub fn check_queue_name(name: &str) -> Result<(), String> {
    if name.ends_with(".fifo") {
        return Err(
            "queue must be a standard queue (S3 event notifications cannot target FIFO queues)"
                .into(),
        );
    }
    check_length("queue name", name, 1..=80)?;
    check_characters(
        "queue name",
        name,
        |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
        "letters, digits, '-' and '_'",
    )
}

/// Glue database, table and column names as Athena can use them: lowercase letters, digits and
/// underscore only, 1 to 255 characters. Glue accepts more, but Athena lowercases names and
/// allows only the underscore as a special character.
/// <https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html>
pub fn check_glue_name(name: &str) -> Result<(), String> {
    check_length("name", name, 1..=255)?;
    check_characters(
        "name",
        name,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        "lowercase letters, digits and '_' (Athena/Glue naming)",
    )
}

/// Athena workgroup names: 1 to 128 characters of `a-z A-Z 0-9 . _ -`.
/// <https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateWorkGroup.html>
pub fn check_workgroup_name(name: &str) -> Result<(), String> {
    check_length("workgroup name", name, 1..=128)?;
    check_characters(
        "workgroup name",
        name,
        |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
        "letters, digits, '.', '_' and '-'",
    )
}

/// `what` (e.g. "queue name") has a length in bytes within `lengths`; the message says
/// "characters", which they are for the ASCII names every rule here allows.
fn check_length(what: &str, name: &str, lengths: RangeInclusive<usize>) -> Result<(), String> {
    if lengths.contains(&name.len()) {
        return Ok(());
    }
    Err(format!(
        "{what} must be {} to {} characters long, it has {}",
        lengths.start(),
        lengths.end(),
        name.len()
    ))
}

/// Every character of `what` is `allowed` (described as `allowed_text`), else the first one
/// that is not is named.
fn check_characters(
    what: &str,
    name: &str,
    allowed: impl Fn(char) -> bool,
    allowed_text: &str,
) -> Result<(), String> {
    match name.chars().find(|&c| !allowed(c)) {
        Some(bad) => Err(format!(
            "{what} may contain only {allowed_text}, not {bad:?}"
        )),
        None => Ok(()),
    }
}

/// An AWS account id: exactly 12 digits.
pub fn check_account_id(id: &str) -> Result<(), String> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("account id must be exactly 12 digits, got {id:?}"))
    }
}

/// A region code such as `us-east-1` or `us-gov-west-1`: lowercase words joined by `-`, ending
/// in a number.
pub fn check_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let words_ok = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()));
    let number_ok = parts
        .last()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if words_ok && number_ok {
        Ok(())
    } else {
        Err(format!(
            "{region:?} is not a region code like \"us-east-1\""
        ))
    }
}

/// Variables Lambda sets itself and rejects in a function's configuration
/// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
pub const LAMBDA_RESERVED_ENVIRONMENT: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["my-company-analytics", "abc", "a.b-c1", "000"] {
            assert!(check_bucket_name(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("ab", "3 to 63"),
            ("My-Bucket", "lowercase"),
            ("my_bucket", "lowercase"),
            ("-abc", "begin and end"),
            ("abc.", "begin and end"),
            ("a..b", "adjacent periods"),
            ("192.168.5.4", "IP address"),
            ("xn--abc", "prefix"),
            ("sthree-abc", "prefix"),
            ("amzn-s3-demo-x", "prefix"),
            ("abc-s3alias", "suffix"),
            ("abc--ol-s3", "suffix"),
            ("abc.mrap", "suffix"),
            ("abc--x-s3", "suffix"),
        ] {
            let error = check_bucket_name(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
        assert!(check_bucket_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn queue_glue_workgroup_account_region() {
        assert!(check_queue_name("file_processing_queue").is_ok());
        assert!(check_queue_name(&"q".repeat(80)).is_ok());
        assert!(check_queue_name(&"q".repeat(81)).is_err());
        assert!(check_queue_name("a.b").is_err());
        assert!(check_queue_name("q.fifo").unwrap_err().contains("FIFO"));
        assert!(check_queue_name("").is_err());
        assert!(check_glue_name("analytics_db").is_ok());
        assert!(check_glue_name("Sales").is_err());
        assert!(check_glue_name("sales-data").is_err());
        assert!(check_glue_name("").is_err());
        assert!(check_workgroup_name("analytics_workgroup").is_ok());
        assert!(check_workgroup_name("bad name").is_err());
        assert!(check_account_id("000000000000").is_ok());
        assert!(check_account_id("12345").is_err());
        assert!(check_region("us-east-1").is_ok());
        assert!(check_region("us-gov-west-1").is_ok());
        assert!(check_region("useast1").is_err());
        assert!(check_region("US-EAST-1").is_err());
    }

    #[test]
    fn length_and_character_messages_name_the_rule() {
        assert_eq!(
            check_glue_name(""),
            Err("name must be 1 to 255 characters long, it has 0".to_string())
        );
        assert_eq!(
            check_workgroup_name(&"w".repeat(129)),
            Err("workgroup name must be 1 to 128 characters long, it has 129".to_string())
        );
        assert_eq!(
            check_bucket_name("My-Bucket"),
            Err(
                "bucket name may contain only lowercase letters, digits, '.' and '-', not 'M'"
                    .to_string()
            )
        );
        assert_eq!(
            check_queue_name("a.b"),
            Err("queue name may contain only letters, digits, '-' and '_', not '.'".to_string())
        );
    }
}
