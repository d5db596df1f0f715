"""The operator policy grants exactly the AWS calls pipeline-ops makes.

The calls are read from the tool's source (scripts/ops/src: every `sqs.x()`, `s3.x()`,
`glue.x()` SDK call) and mapped to their IAM actions, so a new call without its permission, or a
permission nothing uses, fails here.
Run: `pytest infra/tests`.
"""

from __future__ import annotations

import re

from terraform_model import INFRA_DIR, evaluate, root_scope

OPS_SRC = INFRA_DIR.parent / "scripts" / "ops" / "src"
SERVICES = {"sqs": "sqs", "s3": "s3", "glue": "glue"}
# SDK operations authorised by another action's name (IAM service authorization reference):
# ListObjectsV2 by s3:ListBucket; SQS batch calls by their single-message action.
RENAMED = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


def ops_calls() -> set[str]:
    calls = set()
    for path in OPS_SRC.glob("*.rs"):
        for client, method in re.findall(r"\b(sqs|s3|glue)\s*\.\s*([a-z][a-z0-9_]*)\(\)", path.read_text()):
            action = f"{SERVICES[client]}:{''.join(w.capitalize() for w in method.split('_'))}"
            calls.add(RENAMED.get(action, action))
    return calls


def test_operator_policy_grants_exactly_the_calls_of_pipeline_ops():
    calls = ops_calls()
    assert {"sqs:StartMessageMoveTask", "s3:ListBucket", "glue:BatchCreatePartition"} <= calls, calls
    root = root_scope()
    document = root.module.data_of_type("aws_iam_policy_document")["operator"]
    granted = set()
    for statement in document["statement"]:
        granted |= set(evaluate(statement["actions"], root))
    assert granted == calls
