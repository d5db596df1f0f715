# Outputs of the dashboard-body module.

output "json" {
  description = "The dashboard body (CloudWatch dashboard body structure), for aws_cloudwatch_dashboard."
  value       = jsonencode({ widgets = local.widgets })
}
