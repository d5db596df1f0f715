# Read-only access for analysts and BI service accounts (Power BI via the Athena ODBC driver):
# run queries in the pipeline's workgroup, read the catalog and the analytics data, write query
# results. Attach the policy to their role or group; it grants nothing outside this pipeline
# except two list calls that have no resource-level permissions.

locals {
  athena_data_catalog_arn = "arn:${local.partition}:athena:${local.region}:${local.account_id}:datacatalog/AwsDataCatalog"
  query_results_arn       = "${module.analytics_bucket.arn}/${var.query_results_prefix}*"
}

data "aws_iam_policy_document" "analyst" {
  statement {
    sid    = "QueryInWorkgroup"
    effect = "Allow"
    actions = [
      "athena:GetWorkGroup",
      "athena:StartQueryExecution",
      "athena:StopQueryExecution",
      "athena:GetQueryExecution",
      "athena:BatchGetQueryExecution",
      "athena:ListQueryExecutions",
      "athena:GetQueryResults",
      "athena:GetQueryResultsStream",
      "athena:GetQueryRuntimeStatistics",
    ]
    resources = [aws_athena_workgroup.analytics.arn]
  }

  # Metadata calls the ODBC/JDBC drivers make to browse catalogs, databases and tables.
  statement {
    sid    = "BrowseDataCatalog"
    effect = "Allow"
    actions = [
      "athena:GetDataCatalog",
      "athena:ListDatabases",
      "athena:GetDatabase",
      "athena:ListTableMetadata",
      "athena:GetTableMetadata",
    ]
    resources = [local.athena_data_catalog_arn]
  }

  # ListWorkGroups and ListDataCatalogs support no resource-level permissions: "*" is the only
  # resource they accept (Service Authorization Reference, Amazon Athena).
  statement {
    sid       = "ListWorkgroupsAndCatalogs"
    effect    = "Allow"
    actions   = ["athena:ListWorkGroups", "athena:ListDataCatalogs"]
    resources = ["*"]
  }

  statement {
    sid    = "ReadGlueCatalog"
    effect = "Allow"
    actions = [
      "glue:GetDatabase",
      "glue:GetDatabases",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
    ]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${aws_glue_catalog_database.pipeline.name}/*",
    ]
  }

  statement {
    sid       = "ListAnalyticsBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = [module.analytics_bucket.arn]
  }

  statement {
    sid       = "ReadAnalyticsData"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = concat(local.analytics_table_object_arns, [local.query_results_arn])
  }

  # Athena writes results with the caller's credentials.
  statement {
    sid       = "WriteQueryResults"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = [local.query_results_arn]
  }
}

resource "aws_iam_policy" "analyst" {
  name        = "${local.prefix}-analyst-read-only"
  description = "Query the ${local.resources.workgroup_name} Athena workgroup over the ${aws_glue_catalog_database.pipeline.name} database (read-only data, write query results)."
  policy      = data.aws_iam_policy_document.analyst.json
}
