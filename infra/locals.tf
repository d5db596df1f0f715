# Everything derived from the shared pipeline configuration lives here.
#
# Two inputs, one source:
# - ../shared/pipeline.json: the configuration itself (read to check the generated file is in step);
# - generated/catalog.json: written FROM pipeline.json by the project's own loader
#   (`cargo run -p pipeline-core --bin pipeline-config -- catalog shared/pipeline.json`), so
#   placeholders, defaults (dead-letter queue name, maxReceiveCount, visibility timeout), the
#   Glue TableInputs and the function settings are resolved by the same code the handler runs,
#   never re-derived in HCL.
locals {
  pipeline = jsondecode(file("${path.module}/../shared/pipeline.json"))
  catalog  = jsondecode(file("${path.module}/generated/catalog.json"))

  resources      = local.catalog.resources
  entities       = local.catalog.entities
  file_processor = local.catalog.functions["file-processor"]

  region     = coalesce(var.region, local.catalog.aws.region)
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  prefix     = "${var.project}-${var.environment}"

  # One S3 notification rule per distinct file suffix: S3 rejects two rules for the same event
  # type whose prefix/suffix filters overlap, so entities sharing ".csv" share one rule.
  notification_suffixes = toset(local.catalog.notification_suffixes)

  glue_catalog_arn  = "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog"
  glue_database_arn = "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${aws_glue_catalog_database.pipeline.name}"

  # Resolved names that pipeline.json spells out literally (no ${...} placeholder) must equal the
  # generated ones; anything else means generated/catalog.json is stale.
  literal_resource_names = {
    for k, v in local.pipeline.resources : k => v
    if can(tostring(v)) && !can(regex("[$][{]", tostring(v)))
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Fails the plan when generated/catalog.json was not regenerated after pipeline.json changed.
resource "terraform_data" "catalog_freshness" {
  input = sha256(jsonencode(local.catalog))

  lifecycle {
    precondition {
      condition = alltrue([
        for k, v in local.literal_resource_names : tostring(v) == try(tostring(local.resources[k]), "")
      ])
      error_message = "infra/generated/catalog.json is out of date with shared/pipeline.json (resources differ): regenerate it with pipeline-config catalog."
    }
    precondition {
      condition     = sort(keys(local.pipeline.entities)) == sort(keys(local.entities))
      error_message = "infra/generated/catalog.json is out of date with shared/pipeline.json (entities differ): regenerate it with pipeline-config catalog."
    }
  }
}

check "catalog_account" {
  assert {
    condition     = contains(["000000000000", local.account_id], local.catalog.aws.account_id)
    error_message = "generated/catalog.json was produced for account ${local.catalog.aws.account_id}, but you are deploying to ${local.account_id}: regenerate it with AWS_ACCOUNT_ID set."
  }
}
