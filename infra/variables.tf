# Inputs of the root module. Names of data-plane resources (buckets, queues, database, tables,
# workgroup) are NOT variables: they come from shared/pipeline.json via generated/catalog.json, so
# the handler, the emulator and this deployment agree on them.

variable "project" {
  description = "Project name, first part of the prefix of Terraform-only names (function, role, alarms)."
  type        = string
  default     = "skipdb"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod...), second part of the name prefix and a tag."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be 1-16 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "region" {
  description = "AWS region to deploy to. Null means the region in the pipeline configuration (aws.region)."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Lambda instruction set; must match the target scripts/package-functions.sh built (ARCH=...)."
  type        = string
  # x86_64 because the build machines of this project only have the x86_64 Rust standard library;
  # on a machine with `rustup target add aarch64-unknown-linux-gnu` package with ARCH=arm64 and set
  # this to arm64 (about 20% cheaper per GB-second).
  default = "x86_64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "file_processor_zip" {
  description = "Path of the file-processor deployment zip (built by scripts/package-functions.sh), relative to the working directory."
  type        = string
  default     = "../dist/file-processor.zip"
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ... 365, ... 3653)."
  }
}

variable "query_results_prefix" {
  description = "Key prefix (ending in /) in the analytics bucket where the Athena workgroup writes query results."
  type        = string
  default     = "query-results/"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.query_results_prefix))
    error_message = "query_results_prefix must be a relative key prefix ending in '/'."
  }
}

variable "query_results_retention_days" {
  description = "Days after which Athena query results expire."
  type        = number
  default     = 30

  validation {
    condition     = var.query_results_retention_days >= 1
    error_message = "query_results_retention_days must be at least 1."
  }
}

variable "dead_letter_body_retention_days" {
  description = "Days after which a dead-lettered message body stored under the analytics bucket's dead-letter-bodies/ prefix expires."
  type        = number
  default     = 15

  # A body must outlive the DLQ message that refers to it. That message expires 14 days after it
  # was first sent to the work queue (a standard queue keeps the original enqueue time when a
  # message moves to its DLQ), and the body is written later, when the message fails; S3 expires
  # an object the given days after its creation, rounded up to the next midnight UTC (S3 User
  # Guide, "Lifecycle configuration elements"). 14 days is therefore the least; one more is margin.
  validation {
    condition     = var.dead_letter_body_retention_days >= 14
    error_message = "dead_letter_body_retention_days must be at least 14 (the dead-letter queue's retention)."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object version is kept in the (versioned) buckets."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "athena_bytes_scanned_cutoff" {
  description = "Per-query data scan limit of the Athena workgroup in bytes (minimum 10 MB); queries above it are cancelled."
  type        = number
  default     = 10737418240 # 10 GiB = about USD 0.05 per query at USD 5/TB

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10485760 (10 MB), Athena's minimum."
  }
}

variable "oldest_message_age_alarm_seconds" {
  description = "Alarm when the oldest message in the work queue is older than this many seconds (processing stalled)."
  type        = number
  default     = 1800
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified when an alarm fires or recovers. Empty: alarms are only visible in CloudWatch."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (all object versions) and the workgroup's saved queries. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
