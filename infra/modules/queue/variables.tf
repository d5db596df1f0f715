# Inputs of the queue module (work queue + dead-letter queue + alarms).

variable "name" {
  description = "Name of the standard work queue (S3 notifications cannot target FIFO queues)."
  type        = string
}

variable "dead_letter_queue_name" {
  description = "Name of the dead-letter queue."
  type        = string
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue (redrive policy maxReceiveCount)."
  type        = number

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the work queue; at least 6x the consuming function's timeout."
  type        = number

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the work queue (SQS default 4 days)."
  type        = number
  default     = 345600
}

variable "source_bucket_arn" {
  description = "ARN of the only bucket allowed to send event notifications to the work queue."
  type        = string
}

variable "source_account_id" {
  description = "Account that owns the source bucket (aws:SourceAccount condition)."
  type        = string
}

variable "alarm_name_prefix" {
  description = "Prefix of the CloudWatch alarm names."
  type        = string
}

variable "oldest_message_age_alarm_seconds" {
  description = "Alarm threshold for ApproximateAgeOfOldestMessage of the work queue."
  type        = number
}

variable "alarm_actions" {
  description = "ARNs notified on alarm and on recovery."
  type        = list(string)
  default     = []
}
