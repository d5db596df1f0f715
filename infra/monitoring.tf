# The pipeline's CloudWatch dashboard: the handler's EMF metrics per entity, the queue and DLQ,
# the function. Alarms live with what they watch (modules/queue, modules/lambda-function).

locals {
  # The namespace the handler writes its EMF metrics to: its METRICS_NAMESPACE when the config
  # sets one for the function, else the handler's default (DEFAULT_METRICS_NAMESPACE in
  # functions/file-processor/src/settings.rs; infra/tests checks the two are equal).
  metrics_namespace = lookup(local.file_processor.environment, "METRICS_NAMESPACE", "SkipTheDatabase/FileProcessor")
}

module "dashboard_body" {
  source = "./modules/dashboard-body"

  namespace              = local.metrics_namespace
  entities               = sort(keys(local.entities))
  queue_name             = local.resources.sqs_queue
  dead_letter_queue_name = local.resources.dead_letter_queue
  function_name          = module.file_processor.function_name
  region                 = local.region
}

resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = "${local.prefix}-pipeline"
  dashboard_body = module.dashboard_body.json
}
