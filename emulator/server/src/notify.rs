//! Bridges S3 bucket notifications to SQS queues inside the one emulator process.

use emulator_s3::NotificationSink;
use emulator_sqs::Sqs;

/// Delivers S3 event notifications by sending them to the in-process SQS service, as S3 does
/// when a bucket's QueueConfiguration names a queue ARN.
pub struct SqsNotificationSink {
    sqs: Sqs,
}

impl SqsNotificationSink {
    pub fn new(sqs: Sqs) -> Self {
        Self { sqs }
    }
}

impl NotificationSink for SqsNotificationSink {
    fn destination_exists(&self, arn: &str) -> bool {
        self.sqs.queue_exists_arn(arn)
    }

    fn deliver(&self, arn: &str, body: String) -> Result<(), String> {
        self.sqs
            .send_to_arn(arn, body)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn delivered_durably(&self) -> futures::future::BoxFuture<'static, Result<(), String>> {
        let sqs = self.sqs.clone();
        Box::pin(async move { sqs.durable().await.map_err(|e| e.to_string()) })
    }
}
