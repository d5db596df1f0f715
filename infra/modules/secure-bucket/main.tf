# A private, encrypted, versioned S3 bucket with lifecycle rules; used for both pipeline buckets.
#
# Encryption is SSE-S3 (AES-256, S3-managed keys) rather than SSE-KMS: every reader of the
# analytics data (Athena users, the Power BI ODBC service account) would otherwise also need
# kms:Decrypt grants on a customer-managed key, each key costs USD 1/month plus request charges,
# and access is already bounded by IAM + this bucket's policy. See README.md, "Encryption".

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_145:SSE-S3 chosen over SSE-KMS on purpose (no per-reader KMS grants, no key cost); see README "Encryption".
  # checkov:skip=CKV_AWS_18:Server access logs would need a further bucket; object-level audit belongs to CloudTrail data events, which the account owner enables centrally.
  # checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; source files are re-deliverable upstream and the analytics copy is derived from them.
  # checkov:skip=CKV2_AWS_62:Event notifications are configured by the caller where they are consumed (source bucket only); nothing consumes analytics-bucket events.
  bucket        = var.name
  force_destroy = var.force_destroy
}

# ACLs disabled: the bucket owner owns every object, access is decided by policies alone.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # Lifecycle rules on a versioned bucket must be created after versioning is enabled.
  depends_on = [aws_s3_bucket_versioning.this]

  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    # Removes delete markers left once all versions behind them have expired.
    expiration {
      expired_object_delete_marker = true
    }
  }

  dynamic "rule" {
    for_each = var.expiring_prefixes
    content {
      id     = "expire-${trimsuffix(replace(rule.key, "/", "-"), "-")}"
      status = "Enabled"

      filter {
        prefix = rule.key
      }

      expiration {
        days = rule.value
      }
    }
  }
}

# Refuse plain-HTTP requests. A Deny with a wildcard action only takes access away.
data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json

  # S3 rejects a policy write while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
