# The body of the pipeline's CloudWatch dashboard: what the local console shows, from the metrics
# production has. No provider and no resource here, so infra/tests renders it with a bare
# `terraform apply` and checks every metric it graphs against what the handler really emits.
#
# Body format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
# (a metric row is [Namespace, MetricName, DimensionName, DimensionValue, ..., {options}]).

locals {
  # The handler's EMF metrics (functions/file-processor/src/telemetry.rs), all with the one
  # dimension Entity: per-file metrics under the file's entity ("unknown" when a message names no
  # routable file), per-message metrics under Entity "all". The statistic graphed for each.
  dimension      = "Entity"
  unknown_entity = "unknown"
  message_entity = "all"
  file_metrics = {
    FilesProcessed   = "Sum"
    FilesRejected    = "Sum"
    RowsProcessed    = "Sum"
    BytesProcessed   = "Sum"
    ProcessingMillis = "p99"
  }
  message_metrics = ["MessagesDeadLettered", "DeadLetterSendFailures", "RetriesDelayed", "VisibilityChangeFailures"]

  file_entities = concat(var.entities, [local.unknown_entity])
  # Three 8-wide graphs per row.
  base = { width = 8, height = 6, view = "timeSeries" }

  handler_widgets = concat(
    [for i, name in keys(local.file_metrics) : {
      type   = "metric"
      x      = (i % 3) * 8
      y      = floor(i / 3) * 6
      width  = local.base.width
      height = local.base.height
      properties = {
        title   = "${name} by entity (${local.file_metrics[name]})"
        region  = var.region
        view    = local.base.view
        stacked = false
        period  = var.period_seconds
        stat    = local.file_metrics[name]
        metrics = [for e in local.file_entities : [var.namespace, name, local.dimension, e]]
      }
    }],
    [{
      type   = "metric"
      x      = 16
      y      = 6
      width  = local.base.width
      height = local.base.height
      properties = {
        title   = "Failed messages: dead-lettered, retried, send failures"
        region  = var.region
        view    = local.base.view
        stacked = false
        period  = var.period_seconds
        stat    = "Sum"
        metrics = [for name in local.message_metrics : [var.namespace, name, local.dimension, local.message_entity]]
      }
    }],
  )

  queue_widgets = [
    {
      type   = "metric"
      x      = 0
      y      = 12
      width  = local.base.width
      height = local.base.height
      properties = {
        title   = "Work queue: visible and in flight"
        region  = var.region
        view    = local.base.view
        stacked = true
        period  = var.period_seconds
        stat    = "Maximum"
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
          ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", var.queue_name],
          ["AWS/SQS", "ApproximateNumberOfMessagesDelayed", "QueueName", var.queue_name],
        ]
      }
    },
    {
      type   = "metric"
      x      = 8
      y      = 12
      width  = local.base.width
      height = local.base.height
      properties = {
        title   = "Age of the oldest message (s)"
        region  = var.region
        view    = local.base.view
        stacked = false
        period  = var.period_seconds
        stat    = "Maximum"
        metrics = [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name]]
      }
    },
    {
      type   = "metric"
      x      = 16
      y      = 12
      width  = local.base.width
      height = local.base.height
      properties = {
        title   = "Dead-letter queue depth"
        region  = var.region
        view    = local.base.view
        stacked = false
        period  = var.period_seconds
        stat    = "Maximum"
        metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dead_letter_queue_name]]
      }
    },
  ]

  function_widgets = [
    {
      type   = "metric"
      x      = 0
      y      = 18
      width  = local.base.width
      height = local.base.height
      properties = {
        title   = "Function invocations, errors, throttles"
        region  = var.region
        view    = local.base.view
        stacked = false
        period  = var.period_seconds
        stat    = "Sum"
        metrics = [
          ["AWS/Lambda", "Invocations", "FunctionName", var.function_name],
          ["AWS/Lambda", "Errors", "FunctionName", var.function_name],
          ["AWS/Lambda", "Throttles", "FunctionName", var.function_name],
        ]
      }
    },
    {
      type   = "metric"
      x      = 8
      y      = 18
      width  = local.base.width
      height = local.base.height
      properties = {
        title   = "Function duration (ms): p50, p99, max"
        region  = var.region
        view    = local.base.view
        stacked = false
        period  = var.period_seconds
        metrics = [
          ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { stat = "p50" }],
          ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { stat = "p99" }],
          ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { stat = "Maximum" }],
        ]
      }
    },
    {
      type   = "metric"
      x      = 16
      y      = 18
      width  = local.base.width
      height = local.base.height
      properties = {
        # Emitted per function for every function, not only those with reserved concurrency:
        # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html
        title   = "Concurrent instances"
        region  = var.region
        view    = local.base.view
        stacked = false
        period  = var.period_seconds
        stat    = "Maximum"
        metrics = [["AWS/Lambda", "ConcurrentExecutions", "FunctionName", var.function_name]]
      }
    },
  ]

  widgets = concat(local.handler_widgets, local.queue_widgets, local.function_widgets)
}
