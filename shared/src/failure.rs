//! Failure classification and the retry backoff.
//!
//! Permanent failures (bad input, unknown file, schema mismatch, missing object, access denied)
//! cannot succeed on retry: the handler reports them and lets the message reach the DLQ without
//! waiting. Transient ones (throttling, 5xx, timeouts, connection errors) are retried with
//! exponential backoff and full jitter: the message's visibility timeout is set to
//! `random(0 ..= min(cap, base * 2^(receive_count - 1)))` seconds
//! (<https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>), a value valid
//! for ChangeMessageVisibility (0..=43200).

use rand::Rng;

use crate::csv_check::CsvError;
use crate::event::EventError;
use crate::route::RouteError;

/// Largest visibility timeout SQS accepts, for a queue and for ChangeMessageVisibility: 12 hours.
/// The config validation and the retry backoff both use it.
pub const MAX_VISIBILITY_TIMEOUT_SECONDS: u32 = 43_200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// Retrying cannot help.
    Permanent,
    /// May succeed later.
    Transient,
}

impl FailureClass {
    pub fn is_transient(self) -> bool {
        self == FailureClass::Transient
    }
}

/// Error codes the AWS SDKs retry as throttling or transient errors (the lists of
/// aws-smithy-runtime's retry classifiers, plus the service-side internal errors of S3, SQS and
/// Glue).
const TRANSIENT_CODES: &[&str] = &[
    // Throttling.
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "AWS.SimpleQueueService.RequestThrottled",
    // Timeouts and server-side failures.
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "OperationTimeoutException",
    "ConcurrentModificationException",
    // Credentials that are refreshed on the next attempt.
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
];

/// The class of an error code, when the code alone decides it (`None`: unknown code).
pub fn classify_error_code(code: &str) -> Option<FailureClass> {
    TRANSIENT_CODES
        .contains(&code)
        .then_some(FailureClass::Transient)
}

/// The class of an HTTP status: 408, 429 and 5xx are transient, other 4xx permanent.
pub fn classify_http_status(status: u16) -> FailureClass {
    match status {
        408 | 429 | 500..=599 => FailureClass::Transient,
        400..=499 => FailureClass::Permanent,
        // 1xx/2xx/3xx as a failure means a protocol surprise; retrying is the safe side.
        _ => FailureClass::Transient,
    }
}

/// Classifies an AWS service error: a known transient code wins (S3's `RequestTimeout` comes
/// with status 400), then the status; with neither (connection reset, DNS, dispatch timeout) the
/// failure is transient.
pub fn classify_aws_error(code: Option<&str>, http_status: Option<u16>) -> FailureClass {
    if let Some(class) = code.and_then(classify_error_code) {
        return class;
    }
    match http_status {
        Some(status) => classify_http_status(status),
        None if code.is_some() => FailureClass::Permanent,
        None => FailureClass::Transient,
    }
}

impl EventError {
    /// Always permanent: the message body will not change.
    pub fn class(&self) -> FailureClass {
        FailureClass::Permanent
    }
}

impl RouteError {
    /// Always permanent: the key and the config decide it.
    pub fn class(&self) -> FailureClass {
        FailureClass::Permanent
    }
}

impl CsvError {
    /// Content errors are permanent; failing to read the object is transient.
    pub fn class(&self) -> FailureClass {
        match self {
            CsvError::Io(_) => FailureClass::Transient,
            _ => FailureClass::Permanent,
        }
    }
}

/// Exponential backoff with full jitter, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Upper bound of the first retry's delay.
    pub base_seconds: u32,
    /// Upper bound of any delay; at most 43200.
    pub cap_seconds: u32,
}

impl Default for RetryPolicy {
    /// 10 s doubling up to 15 minutes: with the default 5 receives a message is retried over
    /// roughly 0 to 5 minutes before it reaches the DLQ.
    fn default() -> Self {
        RetryPolicy {
            base_seconds: 10,
            cap_seconds: 900,
        }
    }
}

impl RetryPolicy {
    /// A policy with the cap clamped to SQS's maximum visibility timeout.
    pub fn new(base_seconds: u32, cap_seconds: u32) -> Self {
        RetryPolicy {
            base_seconds,
            cap_seconds: cap_seconds.min(MAX_VISIBILITY_TIMEOUT_SECONDS),
        }
    }

    /// The ceiling of the delay after the `approximate_receive_count`-th receive (1 for the first
    /// delivery): `min(cap, base * 2^(count - 1))`, never above 43200.
    pub fn ceiling_seconds(&self, approximate_receive_count: u32) -> u32 {
        let exponent = approximate_receive_count.saturating_sub(1).min(31);
        let grown = u64::from(self.base_seconds) << exponent;
        let cap = self.cap_seconds.min(MAX_VISIBILITY_TIMEOUT_SECONDS);
        grown.min(u64::from(cap)) as u32
    }

    /// The visibility timeout (seconds) to set on a message that failed transiently: uniform in
    /// `0..=ceiling_seconds(count)`.
    pub fn backoff_seconds(&self, approximate_receive_count: u32, rng: &mut impl Rng) -> u32 {
        let ceiling = self.ceiling_seconds(approximate_receive_count);
        rng.random_range(0..=ceiling)
    }
}

/// Reads SQS's `ApproximateReceiveCount` attribute; a missing or malformed value counts as 1.
pub fn parse_receive_count(attribute: Option<&str>) -> u32 {
    attribute
        .and_then(|value| value.trim().parse::<u32>().ok())
        .filter(|count| *count >= 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn classification() {
        use FailureClass::*;
        assert_eq!(
            classify_aws_error(Some("ThrottlingException"), Some(400)),
            Transient
        );
        assert_eq!(classify_aws_error(Some("SlowDown"), Some(503)), Transient);
        assert_eq!(
            classify_aws_error(Some("RequestTimeout"), Some(400)),
            Transient
        );
        assert_eq!(
            classify_aws_error(Some("InternalServiceException"), Some(500)),
            Transient
        );
        assert_eq!(classify_aws_error(Some("NoSuchKey"), Some(404)), Permanent);
        assert_eq!(
            classify_aws_error(Some("AccessDenied"), Some(403)),
            Permanent
        );
        assert_eq!(
            classify_aws_error(Some("EntityNotFoundException"), None),
            Permanent
        );
        assert_eq!(classify_aws_error(Some("Weird"), Some(502)), Transient);
        assert_eq!(classify_aws_error(None, Some(429)), Transient);
        assert_eq!(classify_aws_error(None, Some(408)), Transient);
        assert_eq!(classify_aws_error(None, Some(400)), Permanent);
        assert_eq!(classify_aws_error(None, None), Transient);
        assert_eq!(classify_http_status(504), Transient);
        assert_eq!(CsvError::Io("reset".into()).class(), Transient);
        assert_eq!(CsvError::Empty.class(), Permanent);
        assert_eq!(EventError::NotJson("x".into()).class(), Permanent);
        assert!(Transient.is_transient());
    }

    #[test]
    fn ceiling_grows_and_caps() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<u32> = (0..=8).map(|n| policy.ceiling_seconds(n)).collect();
        assert_eq!(ceilings, [10, 10, 20, 40, 80, 160, 320, 640, 900]);
        assert_eq!(policy.ceiling_seconds(u32::MAX), 900);
        let huge = RetryPolicy {
            base_seconds: u32::MAX,
            cap_seconds: u32::MAX,
        };
        assert_eq!(huge.ceiling_seconds(40), MAX_VISIBILITY_TIMEOUT_SECONDS);
        assert_eq!(
            RetryPolicy::new(1, 100_000).cap_seconds,
            MAX_VISIBILITY_TIMEOUT_SECONDS
        );
    }

    #[test]
    fn backoff_is_deterministic_with_a_seeded_rng() {
        let policy = RetryPolicy::default();
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (1..=6)
                .map(|n| policy.backoff_seconds(n, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let zero = RetryPolicy {
            base_seconds: 0,
            cap_seconds: 900,
        };
        assert_eq!(zero.backoff_seconds(3, &mut StdRng::seed_from_u64(1)), 0);
    }

    #[test]
    fn receive_count_parsing() {
        assert_eq!(parse_receive_count(Some("3")), 3);
        assert_eq!(parse_receive_count(Some("0")), 1);
        assert_eq!(parse_receive_count(Some("x")), 1);
        assert_eq!(parse_receive_count(None), 1);
    }
}
