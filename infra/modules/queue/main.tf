# The work queue S3 notifies, its dead-letter queue, the queue policy and the queue alarms.
#
# Encryption is SSE-SQS (sqs_managed_sse_enabled): S3 event notifications cannot be delivered to a
# queue encrypted with the AWS-managed aws/sqs KMS key, and a customer-managed key would need a key
# policy for s3.amazonaws.com plus kms:Decrypt for every consumer; SSE-SQS needs neither.

locals {
  # SQS maximum. For standard queues a message keeps its ORIGINAL enqueue timestamp when it moves
  # to the DLQ, so the DLQ must retain longer than the source queue or failures expire unseen
  # (SQS Developer Guide, "Setting-up dead-letter queue retention").
  dead_letter_retention_seconds = 1209600
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = var.dead_letter_queue_name
  message_retention_seconds = local.dead_letter_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "work" {
  name                       = var.name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })

  lifecycle {
    precondition {
      condition     = var.message_retention_seconds < local.dead_letter_retention_seconds
      error_message = "The work queue must retain messages for less time than its dead-letter queue (14 days)."
    }
  }
}

# Only the work queue may use the DLQ as its dead-letter target.
resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.work.arn]
  })
}

# S3 may send to the work queue only on behalf of the source bucket in our account (the
# aws:SourceArn + aws:SourceAccount pair guards against the confused-deputy problem;
# S3 User Guide, "Granting permissions to publish event notification messages to a destination").
data "aws_iam_policy_document" "work_queue" {
  statement {
    sid       = "AllowSourceBucketNotifications"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.work.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.source_bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.source_account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.work.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "work" {
  queue_url = aws_sqs_queue.work.id
  policy    = data.aws_iam_policy_document.work_queue.json
}

# Any message in the DLQ is a file that was not processed: alarm on the first one.
resource "aws_cloudwatch_metric_alarm" "dead_letter_depth" {
  alarm_name          = "${var.alarm_name_prefix}-dlq-not-empty"
  alarm_description   = "Messages in ${aws_sqs_queue.dead_letter.name}: files that failed ${var.max_receive_count} times. Inspect, fix, then redrive (StartMessageMoveTask)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# Old messages in the work queue mean the consumer is stalled, failing or under-scaled.
resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  alarm_name          = "${var.alarm_name_prefix}-queue-oldest-message-age"
  alarm_description   = "Oldest message in ${aws_sqs_queue.work.name} is older than ${var.oldest_message_age_alarm_seconds} s: file processing is stalled or falling behind."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.work.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_age_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
