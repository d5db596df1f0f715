"""Invariants of the Terraform in infra/, checked by parsing the HCL (python-hcl2) and following
its references with terraform_model (the AWS provider is not available here, so no `plan`).

Each test states one property a deployment must keep: Glue tables equal the generated catalog
model, the queue outlives the function timeout six times over, the event source mapping reports
partial batch failures, IAM names its actions, only the source bucket may feed the queue.
Run: `pytest infra/tests` (needs `pip install -r infra/tests/requirements.txt`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from terraform_model import INFRA_DIR, Ref, Scope, blocks, dynamic_blocks, evaluate, root_scope

CATALOG_PATH = INFRA_DIR / "generated" / "catalog.json"
PIPELINE_PATH = INFRA_DIR.parent / "shared" / "pipeline.json"
SOURCE_BUCKET_ARN = Ref(("source_bucket",), "aws_s3_bucket.this.arn")
WORK_QUEUE_ARN = Ref(("queue",), "aws_sqs_queue.work.arn")
ACCOUNT_ID = Ref((), "data.aws_caller_identity.current.account_id")

# Actions AWS authorises only against Resource "*" (no resource-level permissions).
ACTIONS_WITHOUT_RESOURCE_LEVEL = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "athena:ListWorkGroups",
    "athena:ListDataCatalogs",
}

# Resource arguments that hold an IAM policy document, by resource type.
POLICY_ARGUMENTS = {
    "aws_iam_role": "assume_role_policy",
    "aws_iam_role_policy": "policy",
    "aws_iam_policy": "policy",
    "aws_sqs_queue_policy": "policy",
    "aws_s3_bucket_policy": "policy",
}


@pytest.fixture(scope="module")
def root() -> Scope:
    return root_scope()


@pytest.fixture(scope="module")
def catalog() -> dict:
    return json.loads(CATALOG_PATH.read_text())


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return json.loads(PIPELINE_PATH.read_text())


def all_scopes(scope: Scope) -> list[Scope]:
    """The root module and every module instance it calls, recursively."""
    found = [scope]
    for name in scope.module.modules:
        found.extend(all_scopes(scope.child(name)))
    return found


def single_resource(scope: Scope, rtype: str) -> dict:
    resources = scope.module.resources_of_type(rtype)
    assert len(resources) == 1, f"expected one {rtype} in {scope.module.directory}, got {list(resources)}"
    return next(iter(resources.values()))


def statements(document: dict, scope: Scope) -> list[dict]:
    """The statements of an aws_iam_policy_document, evaluated, with AWS's defaults filled in."""
    result = []
    for statement in blocks(document, "statement"):
        evaluated = {k: evaluate(v, scope) for k, v in statement.items()
                     if k not in ("condition", "principals")}
        evaluated.setdefault("effect", "Allow")
        evaluated["conditions"] = [
            {k: evaluate(v, scope) for k, v in c.items()} for c in blocks(statement, "condition")
        ]
        evaluated["principals"] = [
            {k: evaluate(v, scope) for k, v in p.items()} for p in blocks(statement, "principals")
        ]
        result.append(evaluated)
    return result


# --- one source for names, tables and settings --------------------------------------------------


def test_terraform_reads_the_pipeline_config_and_the_generated_catalog(root, catalog, pipeline):
    assert evaluate(root.module.locals["catalog"], root) == catalog
    assert evaluate(root.module.locals["pipeline"], root) == pipeline
    assert "generated/catalog.json" in root.module.locals["catalog"]
    assert "../shared/pipeline.json" in root.module.locals["pipeline"]


def test_generated_catalog_is_in_step_with_pipeline_json(catalog, pipeline):
    # The lead's freshness test regenerates and diffs; this catches the obvious drift early.
    assert sorted(catalog["entities"]) == sorted(pipeline["entities"])
    for name, entity in pipeline["entities"].items():
        assert catalog["entities"][name]["table_name"] == entity["table_name"]
    for key, value in pipeline["resources"].items():
        if not (isinstance(value, str) and "${" in value):
            assert catalog["resources"][key] == value, key
    for key in ("dead_letter_queue", "max_receive_count", "visibility_timeout_seconds"):
        assert key in catalog["resources"], f"loader default {key} missing from the generated file"


def test_data_plane_names_come_from_the_generated_resources(root, catalog):
    resources = catalog["resources"]
    source = root.child("source_bucket")
    analytics = root.child("analytics_bucket")
    queue = root.child("queue")
    assert evaluate(single_resource(source, "aws_s3_bucket")["bucket"], source) == resources["source_bucket"]
    assert evaluate(single_resource(analytics, "aws_s3_bucket")["bucket"], analytics) == resources["analytics_bucket"]
    queues = queue.module.resources_of_type("aws_sqs_queue")
    assert evaluate(queues["work"]["name"], queue) == resources["sqs_queue"]
    assert evaluate(queues["dead_letter"]["name"], queue) == resources["dead_letter_queue"]
    workgroup = single_resource(root, "aws_athena_workgroup")
    assert evaluate(workgroup["name"], root) == resources["workgroup_name"]
    database = single_resource(root, "aws_glue_catalog_database")
    assert evaluate(database["name"], root) == catalog["database"]["Name"] == resources["glue_database"]


# --- Glue tables ------------------------------------------------------------------------------


def test_every_entity_has_a_glue_table_equal_to_the_catalog_model(root, catalog, pipeline):
    tables = root.module.resources_of_type("aws_glue_catalog_table")
    assert list(tables) == ["entity"], "Glue tables must all come from the one for_each over the catalog"
    table = tables["entity"]
    instances = evaluate(table["for_each"], root)
    model = {t["Name"]: t for t in catalog["tables"]}
    assert sorted(instances) == sorted(model)
    assert sorted(model) == sorted(e["table_name"] for e in pipeline["entities"].values())

    for entity in pipeline["entities"].values():
        name = entity["table_name"]
        expected = model[name]
        scope = root.with_iterators(each={"key": name, "value": instances[name]})
        assert evaluate(table["name"], scope) == name
        assert evaluate(table["database_name"], scope) == catalog["database"]["Name"]
        assert evaluate(table["table_type"], scope) == expected["TableType"]
        assert evaluate(table["parameters"], scope) == expected["Parameters"]

        (descriptor,) = blocks(table, "storage_descriptor")
        columns = dynamic_blocks(descriptor, "columns", scope)
        assert [(c["name"], c["type"], c["comment"]) for c in columns] == [
            (c["Name"], c["Type"], c.get("Comment")) for c in expected["StorageDescriptor"]["Columns"]
        ]
        # The model's columns are the configured schema, in order.
        assert [c["name"] for c in columns] == [c["name"] for c in entity["schema"]]
        partition_keys = dynamic_blocks(table, "partition_keys", scope)
        assert [(k["name"], k["type"]) for k in partition_keys] == [
            (k["Name"], k["Type"]) for k in expected["PartitionKeys"]
        ]
        assert [k["name"] for k in partition_keys] == entity["partition_keys"]

        sd = expected["StorageDescriptor"]
        assert evaluate(descriptor["location"], scope) == sd["Location"]
        assert sd["Location"] == f"s3://{catalog['resources']['analytics_bucket']}/{name}/"
        assert evaluate(descriptor["input_format"], scope) == sd["InputFormat"]
        assert evaluate(descriptor["output_format"], scope) == sd["OutputFormat"]
        (serde,) = blocks(descriptor, "ser_de_info")
        assert evaluate(serde["serialization_library"], scope) == sd["SerdeInfo"]["SerializationLibrary"]
        assert evaluate(serde["parameters"], scope) == sd["SerdeInfo"]["Parameters"]


# --- queue, function, mapping -----------------------------------------------------------------


def test_visibility_timeout_is_at_least_six_times_the_function_timeout(root, catalog):
    queue = root.child("queue")
    function = root.child("file_processor")
    visibility = evaluate(queue.module.resources_of_type("aws_sqs_queue")["work"]["visibility_timeout_seconds"], queue)
    timeout = evaluate(single_resource(function, "aws_lambda_function")["timeout"], function)
    assert isinstance(visibility, int) and isinstance(timeout, int)
    assert visibility >= 6 * timeout, f"visibility timeout {visibility}s < 6 x function timeout {timeout}s"
    # Both come from the generated file (loader defaults), not from numbers typed into HCL.
    assert visibility == catalog["resources"]["visibility_timeout_seconds"]
    assert timeout == catalog["functions"]["file-processor"]["timeout_seconds"]
    # The mapping's own precondition sees the queue's real value.
    trigger = evaluate(root.module.modules["file_processor"]["sqs_trigger"], root)
    assert trigger["queue_visibility_timeout_seconds"] == visibility


def test_redrive_and_dead_letter_retention(root, catalog):
    queue = root.child("queue")
    call = root.module.modules["queue"]
    assert evaluate(call["max_receive_count"], root) == catalog["resources"]["max_receive_count"]
    work = queue.module.resources_of_type("aws_sqs_queue")["work"]
    redrive = work["redrive_policy"].replace(" ", "")
    assert "deadLetterTargetArn=aws_sqs_queue.dead_letter.arn" in redrive
    assert "maxReceiveCount=var.max_receive_count" in redrive
    dead_letter = queue.module.resources_of_type("aws_sqs_queue")["dead_letter"]
    assert evaluate(dead_letter["message_retention_seconds"], queue) == 14 * 24 * 3600
    for q in (work, dead_letter):
        assert evaluate(q["sqs_managed_sse_enabled"], queue) is True


def test_mapping_reports_batch_item_failures(root, catalog):
    function = root.child("file_processor")
    mapping = single_resource(function, "aws_lambda_event_source_mapping")
    assert evaluate(mapping["function_response_types"], function) == ["ReportBatchItemFailures"]
    assert evaluate(mapping["event_source_arn"], function) == WORK_QUEUE_ARN
    settings = catalog["functions"]["file-processor"]
    assert evaluate(mapping["batch_size"], function) == settings["batch_size"]
    assert evaluate(mapping["maximum_batching_window_in_seconds"], function) == settings["maximum_batching_window_seconds"]
    (scaling,) = blocks(mapping, "scaling_config")
    assert 2 <= evaluate(scaling["maximum_concurrency"], function) == settings["maximum_concurrency"]


def test_function_runtime_and_package(root):
    function = root.child("file_processor")
    lam = single_resource(function, "aws_lambda_function")
    assert evaluate(lam["runtime"], function) == "provided.al2023"
    assert evaluate(lam["handler"], function) == "bootstrap"
    assert evaluate(lam["architectures"], function) == [evaluate(root.module.variables["architecture"]["default"], root)]
    zip_default = evaluate(root.module.variables["file_processor_zip"]["default"], root)
    assert (INFRA_DIR / zip_default).resolve() == INFRA_DIR.parent / "dist" / "file-processor.zip"
    function_name = evaluate(lam["function_name"], function)
    (logging,) = blocks(lam, "logging_config")
    assert evaluate(logging["log_group"], function) == f"/aws/lambda/{function_name}"
    log_group = single_resource(function, "aws_cloudwatch_log_group")
    assert evaluate(log_group["retention_in_days"], function) >= 1


def test_architecture_variable_is_validated(root):
    variable = root.module.variables["architecture"]
    assert evaluate(variable["default"], root) in ("arm64", "x86_64")
    (validation,) = blocks(variable, "validation")
    assert "arm64" in validation["condition"] and "x86_64" in validation["condition"]


# --- IAM ----------------------------------------------------------------------------------------


def test_every_policy_is_a_checked_policy_document(root):
    for scope in all_scopes(root):
        for rtype, argument in POLICY_ARGUMENTS.items():
            for name, body in scope.module.resources_of_type(rtype).items():
                value = evaluate(body[argument], scope)
                assert isinstance(value, Ref) and value.address.startswith("data.aws_iam_policy_document."), (
                    f"{rtype}.{name} in {scope.module.directory} must use an aws_iam_policy_document, got {value!r}"
                )


def test_no_iam_statement_allows_a_wildcard_action(root):
    checked = 0
    for scope in all_scopes(root):
        for name, document in scope.module.data_of_type("aws_iam_policy_document").items():
            for statement in statements(document, scope):
                where = f"{scope.module.directory.name}/{name} {statement.get('sid', '')}"
                assert "not_actions" not in statement and "not_resources" not in statement, where
                actions = statement.get("actions", [])
                if statement["effect"] == "Deny":
                    # A wildcard Deny only removes access; require it to be conditional.
                    assert statement["conditions"], f"{where}: unconditional Deny"
                    continue
                checked += 1
                assert actions, f"{where}: no actions"
                for action in actions:
                    assert "*" not in action, f"{where}: wildcard action {action}"
                resources = statement.get("resources", [])
                if "*" in resources:
                    assert set(actions) <= ACTIONS_WITHOUT_RESOURCE_LEVEL, (
                        f"{where}: Resource \"*\" for {actions} although they take resource ARNs"
                    )
    assert checked >= 10, "the IAM documents were not found"


def test_function_policy_names_what_the_handler_needs(root):
    documents = root.module.data_of_type("aws_iam_policy_document")
    granted: dict[str, list] = {}
    for statement in statements(documents["file_processor"], root):
        for action in statement["actions"]:
            granted.setdefault(action, []).extend(statement["resources"])
    needed = {
        "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl", "sqs:SendMessage",
        "glue:GetPartition", "glue:BatchCreatePartition", "glue:UpdatePartition",
    }
    assert needed <= set(granted), f"missing: {needed - set(granted)}"
    # Least privilege: exactly the Glue calls file-processor makes (partitions.rs), no more.
    glue_granted = {a for a in granted if a.startswith("glue:")}
    assert glue_granted == {"glue:GetPartition", "glue:BatchCreatePartition", "glue:UpdatePartition"}, glue_granted
    assert granted["sqs:SendMessage"] == [Ref(("queue",), "aws_sqs_queue.dead_letter.arn")]
    assert all(r == WORK_QUEUE_ARN for r in granted["sqs:ReceiveMessage"])
    assert "<source_bucket:aws_s3_bucket.this.arn>/*" in [str(r) for r in granted["s3:GetObject"]]
    assert all(str(r).startswith("<analytics_bucket:aws_s3_bucket.this.arn>/") for r in granted["s3:PutObject"]), (
        "the function may write only below the analytics tables' prefixes"
    )


def test_queue_policy_only_lets_the_source_bucket_send(root):
    queue = root.child("queue")
    policy = evaluate(single_resource(queue, "aws_sqs_queue_policy")["policy"], queue)
    document_name = policy.address.split(".")[2]
    document = queue.module.data_of_type("aws_iam_policy_document")[document_name]
    allows = [s for s in statements(document, queue) if s["effect"] == "Allow"]
    assert allows, "queue policy grants nothing"
    for statement in allows:
        assert statement["actions"] == ["sqs:SendMessage"]
        assert statement["resources"] == [WORK_QUEUE_ARN]
        assert statement["principals"] == [{"type": "Service", "identifiers": ["s3.amazonaws.com"]}]
        conditions = {c["variable"]: c for c in statement["conditions"]}
        assert conditions["aws:SourceArn"]["test"] in ("ArnEquals", "ArnLike")
        assert conditions["aws:SourceArn"]["values"] == [SOURCE_BUCKET_ARN]
        assert conditions["aws:SourceAccount"]["test"] == "StringEquals"
        assert conditions["aws:SourceAccount"]["values"] == [ACCOUNT_ID]


def test_bucket_notification_sends_entity_files_to_the_queue(root, catalog):
    notification = single_resource(root, "aws_s3_bucket_notification")
    assert evaluate(notification["bucket"], root) == catalog["resources"]["source_bucket"]
    rules = dynamic_blocks(notification, "queue", root)
    assert sorted(r["filter_suffix"] for r in rules) == sorted({e["filename_suffix"] for e in catalog["entities"].values()})
    for rule in rules:
        assert rule["events"] == ["s3:ObjectCreated:*"]
        assert rule["queue_arn"] == WORK_QUEUE_ARN


# --- storage, Athena, alarms --------------------------------------------------------------------


def test_buckets_are_private_encrypted_and_versioned(root, catalog):
    bucket_module = root.child("analytics_bucket")
    block = single_resource(bucket_module, "aws_s3_bucket_public_access_block")
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert evaluate(block[flag], bucket_module) is True, flag
    (rule,) = blocks(single_resource(bucket_module, "aws_s3_bucket_server_side_encryption_configuration"), "rule")
    (default,) = blocks(rule, "apply_server_side_encryption_by_default")
    assert evaluate(default["sse_algorithm"], bucket_module) in ("AES256", "aws:kms")
    (versioning,) = blocks(single_resource(bucket_module, "aws_s3_bucket_versioning"), "versioning_configuration")
    assert evaluate(versioning["status"], bucket_module) == "Enabled"
    expiring = evaluate(root.module.modules["analytics_bucket"]["expiring_prefixes"], root)
    assert expiring == {
        evaluate(root.module.variables["query_results_prefix"]["default"], root): 30,
        catalog["dead_letter_bodies_prefix"]: 15,
    }


def test_dead_letter_bodies_outlive_the_messages_that_refer_to_them(root, catalog):
    # S3 expires an object `days` after its creation (rounded up to midnight UTC); the DLQ message
    # that refers to a body was enqueued before the body was written, and expires after the DLQ's
    # retention counted from that enqueue.
    queue = root.child("queue")
    dead_letter = queue.module.resources_of_type("aws_sqs_queue")["dead_letter"]
    retention_seconds = evaluate(dead_letter["message_retention_seconds"], queue)
    expiring = evaluate(root.module.modules["analytics_bucket"]["expiring_prefixes"], root)
    body_days = expiring[catalog["dead_letter_bodies_prefix"]]
    assert body_days * 86400 >= retention_seconds
    variable = root.module.variables["dead_letter_body_retention_days"]
    (validation,) = blocks(variable, "validation")
    assert ">= 14" in validation["condition"].replace("${", "").replace("}", "")


def test_athena_workgroup_enforces_results_scan_limit_and_metrics(root, catalog):
    workgroup = single_resource(root, "aws_athena_workgroup")
    (config,) = blocks(workgroup, "configuration")
    assert evaluate(config["enforce_workgroup_configuration"], root) is True
    assert evaluate(config["publish_cloudwatch_metrics_enabled"], root) is True
    assert evaluate(config["bytes_scanned_cutoff_per_query"], root) >= 10 * 1024 * 1024
    (results,) = blocks(config, "result_configuration")
    location = evaluate(results["output_location"], root)
    assert location == f"s3://{catalog['resources']['analytics_bucket']}/query-results/"


def test_alarms_watch_dead_letter_depth_and_oldest_message(root, catalog):
    queue = root.child("queue")
    alarms = queue.module.resources_of_type("aws_cloudwatch_metric_alarm")
    by_metric = {evaluate(a["metric_name"], queue): a for a in alarms.values()}
    depth = by_metric["ApproximateNumberOfMessagesVisible"]
    assert evaluate(depth["dimensions"], queue) == {"QueueName": catalog["resources"]["dead_letter_queue"]}
    assert evaluate(depth["threshold"], queue) == 0
    assert evaluate(depth["comparison_operator"], queue) == "GreaterThanThreshold"
    age = by_metric["ApproximateAgeOfOldestMessage"]
    assert evaluate(age["dimensions"], queue) == {"QueueName": catalog["resources"]["sqs_queue"]}
    assert evaluate(age["comparison_operator"], queue) == "GreaterThanThreshold"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([str(Path(__file__))]))
