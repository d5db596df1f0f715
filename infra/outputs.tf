# Outputs: what operators, the upload side and analysts need to know after `terraform apply`.

output "source_bucket_name" {
  description = "Bucket where CSV files land."
  value       = module.source_bucket.name
}

output "analytics_bucket_name" {
  description = "Bucket holding the partitioned tables and the Athena query results."
  value       = module.analytics_bucket.name
}

output "queue_url" {
  description = "URL of the work queue S3 notifies."
  value       = module.queue.work_queue_url
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (inspect and redrive failed files from here)."
  value       = module.queue.dead_letter_queue_url
}

output "function_names" {
  description = "Lambda function names by function crate."
  value = {
    "file-processor" = module.file_processor.function_name
  }
}

output "function_log_groups" {
  description = "CloudWatch log groups by function crate."
  value = {
    "file-processor" = module.file_processor.log_group_name
  }
}

output "glue_database" {
  description = "Glue database holding one table per entity."
  value       = aws_glue_catalog_database.pipeline.name
}

output "glue_tables" {
  description = "Glue table names."
  value       = sort(keys(aws_glue_catalog_table.entity))
}

output "athena_workgroup" {
  description = "Athena workgroup for analysts and the ODBC/JDBC drivers."
  value       = aws_athena_workgroup.analytics.name
}

output "athena_query_results_location" {
  description = "Enforced Athena result location."
  value       = "s3://${module.analytics_bucket.name}/${var.query_results_prefix}"
}

output "analyst_policy_arn" {
  description = "Managed policy to attach to analysts' and BI service accounts' roles."
  value       = aws_iam_policy.analyst.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline (handler metrics per entity, queue, DLQ, function)."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "operator_policy_arn" {
  description = "Managed policy to attach to the roles of operators running pipeline-ops (DLQ redrive, backfill, repair)."
  value       = aws_iam_policy.operator.arn
}
