# Inputs of the lambda-function module (one Rust function on provided.al2023).

variable "function_name" {
  description = "Lambda function name."
  type        = string
}

variable "description" {
  description = "Lambda function description."
  type        = string
}

variable "zip_path" {
  description = "Deployment zip holding the `bootstrap` executable (scripts/package-functions.sh)."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64; must match the binary in the zip."
  type        = string

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "memory_mb" {
  description = "Memory (MB); CPU share grows with it."
  type        = number

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "policy_json" {
  description = "IAM policy (JSON) with the data-plane permissions the function needs; logs and tracing are added here."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
}

variable "sqs_trigger" {
  description = "SQS event source; null for a function without one."
  type = object({
    queue_arn                        = string
    queue_visibility_timeout_seconds = number
    batch_size                       = number
    maximum_batching_window_seconds  = number
    maximum_concurrency              = number
  })
  default = null
}

variable "alarm_name_prefix" {
  description = "Prefix of the CloudWatch alarm names."
  type        = string
}

variable "alarm_actions" {
  description = "ARNs notified on alarm and on recovery."
  type        = list(string)
  default     = []
}
