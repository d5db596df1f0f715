# The function's own failure alarms, next to the queue's DLQ-depth and oldest-message alarms.
#
# The handler reports a failed file through batchItemFailures or the DLQ, never by failing the
# invocation, so any Errors datapoint is a crash, a timeout or a runtime failure: the whole batch
# came back and will be retried. Throttles mean the event source mapping asked for more
# instances than the function's or account's concurrency allowed, so files wait in the queue.
# Metrics: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.alarm_name_prefix}-function-errors"
  alarm_description   = "${aws_lambda_function.this.function_name} failed invocations (crash, timeout, runtime error): its whole batch is retried. See the function's log group."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  alarm_name          = "${var.alarm_name_prefix}-function-throttles"
  alarm_description   = "${aws_lambda_function.this.function_name} invocations were throttled: files wait in the queue. Check the account's concurrency and the mapping's maximum concurrency."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
