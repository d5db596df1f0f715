# The file-processor function: least-privilege policy and the function with its SQS trigger.

locals {
  analytics_table_object_arns = [
    for e in values(local.entities) : "${module.analytics_bucket.arn}/${e.analytics_prefix}*"
  ]
  analytics_table_prefixes = [for e in values(local.entities) : "${e.analytics_prefix}*"]
}

data "aws_iam_policy_document" "file_processor" {
  # GetObjectVersion: the event names the exact version that was created.
  statement {
    sid       = "ReadSourceFiles"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${module.source_bucket.arn}/*"]
  }

  # Without s3:ListBucket a GET/HEAD of a missing key answers 403 AccessDenied instead of 404
  # NoSuchKey (S3 API Reference, HeadObject/GetObject "Permissions"), and the handler would
  # classify a deleted file as a permission problem.
  statement {
    sid       = "TellMissingFromForbiddenSource"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [module.source_bucket.arn]
  }

  # HeadObject is authorised by s3:GetObject.
  statement {
    sid       = "WriteAnalyticsTables"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    resources = local.analytics_table_object_arns
  }

  statement {
    sid       = "TellMissingFromForbiddenAnalytics"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [module.analytics_bucket.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.analytics_table_prefixes
    }
  }

  statement {
    sid    = "ConsumeWorkQueue"
    effect = "Allow"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [module.queue.work_queue_arn]
  }

  # Permanent failures are sent straight to the DLQ instead of being retried maxReceiveCount times.
  # GetQueueAttributes reads the DLQ's MaximumMessageSize: a body that does not fit with its
  # error attributes is stored in S3 and referenced (next statement).
  statement {
    sid       = "SendPermanentFailuresToDlq"
    effect    = "Allow"
    actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"]
    resources = [module.queue.dead_letter_queue_arn]
  }

  # Bodies of dead-lettered messages too large for the DLQ with their reason, kept whole under a
  # prefix no table uses (generated from the handler's constant).
  statement {
    sid       = "KeepOversizedDeadLetterBodies"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${module.analytics_bucket.arn}/${local.catalog.dead_letter_bodies_prefix}*"]
  }

  # Glue authorises a partition call on the catalog, the database and the table ARN together.
  # Exactly the calls file-processor makes: GetPartition (Location check), BatchCreatePartition,
  # UpdatePartition (Location repair).
  statement {
    sid    = "RegisterPartitions"
    effect = "Allow"
    actions = [
      "glue:GetPartition",
      "glue:BatchCreatePartition",
      "glue:UpdatePartition",
    ]
    resources = concat(
      [local.glue_catalog_arn, local.glue_database_arn],
      [for t in aws_glue_catalog_table.entity : t.arn],
    )
  }
}

module "file_processor" {
  source = "./modules/lambda-function"

  function_name   = "${local.prefix}-file-processor"
  description     = "Copies landed CSV files into partitioned analytics tables and registers Glue partitions."
  zip_path        = var.file_processor_zip
  architecture    = var.architecture
  memory_mb       = local.file_processor.memory_mb
  timeout_seconds = local.file_processor.timeout_seconds
  environment = merge(local.file_processor.environment, {
    # Resolves the ${AWS_ACCOUNT_ID} placeholder of the embedded pipeline configuration.
    AWS_ACCOUNT_ID = local.account_id
  })
  policy_json        = data.aws_iam_policy_document.file_processor.json
  log_retention_days = var.log_retention_days
  alarm_name_prefix  = local.prefix
  alarm_actions      = var.alarm_actions

  sqs_trigger = {
    queue_arn                        = module.queue.work_queue_arn
    queue_visibility_timeout_seconds = module.queue.work_queue_visibility_timeout_seconds
    batch_size                       = local.file_processor.batch_size
    maximum_batching_window_seconds  = local.file_processor.maximum_batching_window_seconds
    maximum_concurrency              = local.file_processor.maximum_concurrency
  }
}
