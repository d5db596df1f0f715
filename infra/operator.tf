# Access for operators running pipeline-ops (scripts/ops): `dlq list`/`dlq redrive`, `backfill`
# and `repair`. Exactly the calls the tool makes (infra/tests checks the list against its
# source), on this pipeline's queues, buckets and tables only.
# Move tasks: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
# (StartMessageMoveTask needs ReceiveMessage, DeleteMessage and GetQueueAttributes on the DLQ
# and SendMessage on the destination).

data "aws_iam_policy_document" "operator" {
  # dlq list (receive, then release) and both redrive forms.
  statement {
    sid    = "InspectAndRedriveDeadLetters"
    effect = "Allow"
    actions = [
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:StartMessageMoveTask",
      "sqs:ListMessageMoveTasks",
    ]
    resources = [module.queue.dead_letter_queue_arn]
  }

  # Redriven and backfilled messages go to the work queue.
  statement {
    sid       = "FeedWorkQueue"
    effect    = "Allow"
    actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"]
    resources = [module.queue.work_queue_arn]
  }

  # backfill lists the source bucket; repair lists the table folders.
  statement {
    sid       = "ListSourceFiles"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [module.source_bucket.arn]
  }

  statement {
    sid       = "ListTableFolders"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [module.analytics_bucket.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.analytics_table_prefixes
    }
  }

  # Bodies the handler kept because they were too large for the DLQ.
  statement {
    sid       = "ReadKeptDeadLetterBodies"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${module.analytics_bucket.arn}/${local.catalog.dead_letter_bodies_prefix}*"]
  }

  statement {
    sid    = "RepairPartitions"
    effect = "Allow"
    actions = [
      "glue:GetPartitions",
      "glue:BatchCreatePartition",
      "glue:UpdatePartition",
      "glue:BatchDeletePartition",
    ]
    resources = concat(
      [local.glue_catalog_arn, local.glue_database_arn],
      [for t in aws_glue_catalog_table.entity : t.arn],
    )
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${local.prefix}-pipeline-operator"
  description = "Run pipeline-ops: inspect and redrive the ${local.resources.dead_letter_queue} DLQ, backfill events to ${local.resources.sqs_queue}, repair the partitions of ${aws_glue_catalog_database.pipeline.name}."
  policy      = data.aws_iam_policy_document.operator.json
}
