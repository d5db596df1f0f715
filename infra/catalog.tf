# Glue database, one Glue table per entity and the Athena workgroup analysts query through.
# Table definitions are the TableInputs the project's own catalog model generated, so Terraform,
# the handler's partition registration and the emulator agree on columns, SerDe and location.
# Partitions are NOT managed here: the handler registers them as files arrive.

resource "aws_glue_catalog_database" "pipeline" {
  name        = local.catalog.database.Name
  description = try(local.catalog.database.Description, null)
}

resource "aws_glue_catalog_table" "entity" {
  for_each = { for t in local.catalog.tables : t.Name => t }

  database_name = aws_glue_catalog_database.pipeline.name
  name          = each.value.Name
  description   = try(each.value.Description, null)
  table_type    = try(each.value.TableType, "EXTERNAL_TABLE")
  parameters    = try(each.value.Parameters, null)

  storage_descriptor {
    location          = each.value.StorageDescriptor.Location
    input_format      = each.value.StorageDescriptor.InputFormat
    output_format     = each.value.StorageDescriptor.OutputFormat
    compressed        = try(each.value.StorageDescriptor.Compressed, null)
    number_of_buckets = try(each.value.StorageDescriptor.NumberOfBuckets, null)
    parameters        = try(each.value.StorageDescriptor.Parameters, null)

    ser_de_info {
      name                  = try(each.value.StorageDescriptor.SerdeInfo.Name, null)
      serialization_library = each.value.StorageDescriptor.SerdeInfo.SerializationLibrary
      parameters            = try(each.value.StorageDescriptor.SerdeInfo.Parameters, null)
    }

    dynamic "columns" {
      for_each = each.value.StorageDescriptor.Columns
      content {
        name    = columns.value.Name
        type    = columns.value.Type
        comment = try(columns.value.Comment, null)
      }
    }
  }

  dynamic "partition_keys" {
    for_each = try(each.value.PartitionKeys, [])
    content {
      name    = partition_keys.value.Name
      type    = partition_keys.value.Type
      comment = try(partition_keys.value.Comment, null)
    }
  }

  lifecycle {
    precondition {
      condition     = startswith(each.value.StorageDescriptor.Location, "s3://${module.analytics_bucket.name}/")
      error_message = "Table ${each.value.Name} must be located in the analytics bucket."
    }
  }
}

resource "aws_athena_workgroup" "analytics" {
  name          = local.resources.workgroup_name
  description   = "Queries over the ${aws_glue_catalog_database.pipeline.name} tables; results in s3://${module.analytics_bucket.name}/${var.query_results_prefix}."
  force_destroy = var.force_destroy

  configuration {
    # Clients cannot override the result location, encryption or scan limit.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${module.analytics_bucket.name}/${var.query_results_prefix}"
      expected_bucket_owner = local.account_id

      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
}
