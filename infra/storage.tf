# The two buckets of the pipeline and the notification that feeds the work queue.

module "source_bucket" {
  source = "./modules/secure-bucket"

  name                              = local.resources.source_bucket
  force_destroy                     = var.force_destroy
  noncurrent_version_retention_days = var.noncurrent_version_retention_days
}

module "analytics_bucket" {
  source = "./modules/secure-bucket"

  name                              = local.resources.analytics_bucket
  force_destroy                     = var.force_destroy
  noncurrent_version_retention_days = var.noncurrent_version_retention_days
  expiring_prefixes = {
    (var.query_results_prefix)                = var.query_results_retention_days
    (local.catalog.dead_letter_bodies_prefix) = var.dead_letter_body_retention_days
  }
}

# Every new object whose key ends in one of the entities' file suffixes becomes one SQS message.
resource "aws_s3_bucket_notification" "source_to_queue" {
  bucket = module.source_bucket.name

  dynamic "queue" {
    for_each = local.notification_suffixes
    content {
      id            = "entity-files${queue.value}"
      queue_arn     = module.queue.work_queue_arn
      events        = ["s3:ObjectCreated:*"]
      filter_suffix = queue.value
    }
  }

  # S3 checks it may send to the queue (it sends a test event) when the configuration is written.
  depends_on = [module.queue]

  lifecycle {
    precondition {
      # Two suffix filters where one ends the other overlap, and S3 rejects overlapping rules.
      condition = alltrue(flatten([
        for a in local.notification_suffixes : [
          for b in local.notification_suffixes : a == b || !endswith(a, b)
        ]
      ]))
      error_message = "Entity file suffixes overlap (one ends with another); S3 rejects overlapping notification filters."
    }
    precondition {
      # An empty suffix would notify on every object and overlap every other rule.
      condition     = !contains(local.notification_suffixes, "")
      error_message = "Every entity needs a literal file suffix (e.g. .csv) at the end of its filename_pattern."
    }
  }
}
