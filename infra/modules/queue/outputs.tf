# Outputs of the queue module.

output "work_queue_arn" {
  description = "ARN of the work queue."
  value       = aws_sqs_queue.work.arn
}

output "work_queue_url" {
  description = "URL of the work queue."
  value       = aws_sqs_queue.work.id
}

output "work_queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the work queue (for the consumer's 6x check)."
  value       = aws_sqs_queue.work.visibility_timeout_seconds
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.id
}

output "queue_policy_id" {
  description = "Id of the work queue policy (S3 validates it when the bucket notification is written)."
  value       = aws_sqs_queue_policy.work.id
}
