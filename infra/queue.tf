# Work queue + dead-letter queue fed by the source bucket; names and redrive settings are the
# loader's resolved values from generated/catalog.json.

module "queue" {
  source = "./modules/queue"

  name                             = local.resources.sqs_queue
  dead_letter_queue_name           = local.resources.dead_letter_queue
  max_receive_count                = local.resources.max_receive_count
  visibility_timeout_seconds       = local.resources.visibility_timeout_seconds
  source_bucket_arn                = module.source_bucket.arn
  source_account_id                = local.account_id
  alarm_name_prefix                = local.prefix
  oldest_message_age_alarm_seconds = var.oldest_message_age_alarm_seconds
  alarm_actions                    = var.alarm_actions
}
