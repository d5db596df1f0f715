# Inputs of the dashboard-body module: the names the dashboard's metrics are filed under.

variable "namespace" {
  description = "CloudWatch namespace of the handler's EMF metrics (its METRICS_NAMESPACE)."
  type        = string
}

variable "entities" {
  description = "Entity names (the config's entity keys): the values of the handler's Entity dimension."
  type        = list(string)
}

variable "queue_name" {
  description = "Name of the work queue."
  type        = string
}

variable "dead_letter_queue_name" {
  description = "Name of the dead-letter queue."
  type        = string
}

variable "function_name" {
  description = "Name of the file-processor function."
  type        = string
}

variable "region" {
  description = "Region of the metrics."
  type        = string
}

variable "period_seconds" {
  description = "Period of every graph."
  type        = number
  default     = 300
}
