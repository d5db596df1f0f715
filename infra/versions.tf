# Terraform and provider constraints for the skip-the-database pipeline.
# No backend block: state is local by default; see README.md for an S3 backend.
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.84.0, < 7.0.0"
    }
  }
}

provider "aws" {
  region = local.region

  default_tags {
    tags = merge(var.tags, {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    })
  }
}
