# Inputs of the secure-bucket module.

variable "name" {
  description = "Bucket name (globally unique)."
  type        = string
}

variable "force_destroy" {
  description = "Allow destroying the bucket while it still holds objects."
  type        = bool
  default     = false
}

variable "noncurrent_version_retention_days" {
  description = "Days a noncurrent object version is kept before it expires."
  type        = number
}

variable "expiring_prefixes" {
  description = "Key prefixes whose current objects expire after the given number of days (e.g. Athena query results)."
  type        = map(number)
  default     = {}
}
