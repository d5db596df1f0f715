# One Rust Lambda function (custom runtime provided.al2023, executable `bootstrap`) with its own
# role, log group and, optionally, an SQS event source mapping with partial batch responses.

data "aws_iam_policy_document" "assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  description        = "Execution role of the ${var.function_name} Lambda function."
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
}

resource "aws_iam_role_policy" "data_access" {
  name   = "data-access"
  role   = aws_iam_role.this.id
  policy = var.policy_json
}

# The log group is created here (not by Lambda on first start) so that it has a retention and the
# role needs no logs:CreateLogGroup.
resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs always encrypts at rest with service keys; a customer-managed KMS key would add cost and a key policy for logs.<region>.amazonaws.com for no reader-level gain.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "runtime" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # X-Ray has no resource-level permissions for these two actions: the only valid resource is "*"
  # (Service Authorization Reference, AWS X-Ray).
  statement {
    sid       = "WriteTraces"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "runtime" {
  name   = "runtime"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.runtime.json
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117:The function talks only to public AWS endpoints (S3, SQS, Glue); a VPC would need NAT or interface endpoints (~USD 7+/month each) for no isolation gain.
  # checkov:skip=CKV_AWS_116:Invoked synchronously by the SQS event source mapping, where failed messages go to the queue's redrive DLQ; a function DLQ applies only to asynchronous invocations.
  # checkov:skip=CKV_AWS_173:Environment holds no secrets (log level, account id); Lambda encrypts it at rest with a service key already.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signing step in the build; the zip is built and deployed by the same pipeline, so signing adds no trust boundary here.
  # checkov:skip=CKV_AWS_115:Concurrency is capped by the event source mapping's maximum_concurrency; reserved concurrency would fail in new accounts whose limit is 10.
  function_name    = var.function_name
  description      = var.description
  role             = aws_iam_role.this.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds

  environment {
    variables = var.environment
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_iam_role_policy.runtime]
}

resource "aws_lambda_event_source_mapping" "sqs" {
  count = var.sqs_trigger == null ? 0 : 1

  event_source_arn                   = var.sqs_trigger.queue_arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.sqs_trigger.batch_size
  maximum_batching_window_in_seconds = var.sqs_trigger.maximum_batching_window_seconds
  # The handler returns {"batchItemFailures":[...]}: only failed messages are retried.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.sqs_trigger.maximum_concurrency
  }

  # The mapping polls with the role's permissions; they must exist before it starts.
  depends_on = [aws_iam_role_policy.data_access]

  lifecycle {
    # Lambda Developer Guide, "Using Lambda with Amazon SQS": set the queue's visibility timeout
    # to at least six times the function timeout, or in-flight messages reappear and run twice.
    precondition {
      condition     = var.sqs_trigger.queue_visibility_timeout_seconds >= 6 * var.timeout_seconds
      error_message = "The queue visibility timeout must be at least 6x the function timeout."
    }
    precondition {
      condition     = var.sqs_trigger.batch_size <= 10 || var.sqs_trigger.maximum_batching_window_seconds >= 1
      error_message = "An SQS batch size above 10 needs a maximum batching window of at least 1 second."
    }
  }
}
