"""The dashboard and the function alarms watch what the pipeline really emits.

The handler's metric names, namespace and dimensions are read from its Rust source
(functions/file-processor/src/telemetry.rs and settings.rs), never restated here; the dashboard
is the JSON Terraform itself renders from modules/dashboard-body with the very inputs the root
module passes it (evaluated by terraform_model), so a renamed metric, a new one the dashboard
lacks, or a namespace that drifted fails here.
Run: `pytest infra/tests`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from terraform_model import INFRA_DIR, Ref, evaluate, root_scope

HANDLER_SRC = INFRA_DIR.parent / "functions" / "file-processor" / "src"
CATALOG_PATH = INFRA_DIR / "generated" / "catalog.json"


def _function_body(source: str, name: str) -> str:
    """The text of `fn name` up to the next top-level item."""
    start = source.index(f"fn {name}(")
    end = re.search(r"\n(?:pub )?(?:fn|impl|enum|struct|#\[cfg)", source[start + 1:])
    return source[start:start + 1 + end.start()] if end else source[start:]


def handler_metrics() -> dict:
    """What the handler emits, read from its source."""
    telemetry = (HANDLER_SRC / "telemetry.rs").read_text()
    settings = (HANDLER_SRC / "settings.rs").read_text()
    file_line = _function_body(telemetry, "file_line")
    found = {
        "namespace": re.search(r'DEFAULT_METRICS_NAMESPACE: &str = "([^"]+)"', settings).group(1),
        "dimensions": re.findall(r'"Dimensions": \[\["(\w+)"\]\]', telemetry),
        "file_metrics": set(re.findall(r'name: "(\w+)"', file_line)),
        "unknown_entity": re.search(r'report\.entity\.as_deref\(\)\.unwrap_or\("(\w+)"\)', file_line).group(1),
        "message_metrics": set(re.findall(r'MessageEvent::\w+ \{ \.\. \} => "(\w+)"', telemetry)),
        "message_entity": re.search(r'emf_line\(namespace, "(\w+)", &metrics', telemetry).group(1),
    }
    assert len(found["dimensions"]) == 1, "the handler uses one dimension set"
    assert found["file_metrics"] and found["message_metrics"], found
    return found


def require_terraform() -> str:
    terraform = shutil.which("terraform")
    if terraform is None:
        if os.environ.get("CI"):
            pytest.fail("terraform is not installed")
        pytest.skip("terraform is not installed")
    return terraform


@pytest.fixture(scope="module")
def emitted() -> dict:
    return handler_metrics()


@pytest.fixture(scope="module")
def root():
    return root_scope()


@pytest.fixture(scope="module")
def dashboard_inputs(root) -> dict:
    """The arguments the root module gives modules/dashboard-body, evaluated."""
    call = root.module.modules["dashboard_body"]
    inputs = {name: evaluate(value, root) for name, value in call.items() if name != "source"}
    # Known after apply only; any name will do for rendering (checked below where it comes from).
    assert isinstance(inputs["function_name"], (Ref, str))
    inputs["function_name"] = "file-processor-under-test"
    return inputs


@pytest.fixture(scope="module")
def dashboard(dashboard_inputs, tmp_path_factory) -> dict:
    """The dashboard body as Terraform renders it (the module has no provider: offline)."""
    terraform = require_terraform()
    work = tmp_path_factory.mktemp("dashboard")
    module = (INFRA_DIR / "modules" / "dashboard-body").as_posix()
    (work / "main.tf").write_text(
        'variable "inputs" { type = any }\n'
        f'module "body" {{\n  source = "{module}"\n'
        + "".join(f"  {k} = var.inputs.{k}\n" for k in dashboard_inputs)
        + '}\noutput "json" { value = module.body.json }\n'
    )
    (work / "terraform.tfvars.json").write_text(json.dumps({"inputs": dashboard_inputs}))
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}
    for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        subprocess.run([terraform, f"-chdir={work}", *args], env=env, check=True,
                       capture_output=True, text=True)
    out = subprocess.run([terraform, f"-chdir={work}", "output", "-raw", "json"], env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def metric_rows(dashboard: dict) -> list[dict]:
    """Every graphed metric as {namespace, name, dimensions}."""
    rows = []
    for widget in dashboard["widgets"]:
        for row in widget["properties"].get("metrics", []):
            fields = [f for f in row if not isinstance(f, dict)]
            namespace, name, *pairs = fields
            assert len(pairs) % 2 == 0, row
            rows.append({"namespace": namespace, "name": name,
                         "dimensions": dict(zip(pairs[::2], pairs[1::2]))})
    return rows


def test_namespace_is_the_handlers(dashboard_inputs, emitted):
    catalog = json.loads(CATALOG_PATH.read_text())
    configured = catalog["functions"]["file-processor"]["environment"].get("METRICS_NAMESPACE")
    assert dashboard_inputs["namespace"] == (configured or emitted["namespace"])


def test_dashboard_graphs_every_handler_metric_and_no_other(dashboard, dashboard_inputs, emitted):
    handler_rows = [r for r in metric_rows(dashboard) if r["namespace"] == dashboard_inputs["namespace"]]
    assert {r["name"] for r in handler_rows} == emitted["file_metrics"] | emitted["message_metrics"]
    (dimension,) = emitted["dimensions"]
    assert all(list(r["dimensions"]) == [dimension] for r in handler_rows)
    entities = set(json.loads(CATALOG_PATH.read_text())["entities"])
    assert set(dashboard_inputs["entities"]) == entities
    for name in emitted["file_metrics"]:
        graphed = {r["dimensions"][dimension] for r in handler_rows if r["name"] == name}
        assert graphed == entities | {emitted["unknown_entity"]}, name
    for name in emitted["message_metrics"]:
        graphed = {r["dimensions"][dimension] for r in handler_rows if r["name"] == name}
        assert graphed == {emitted["message_entity"]}, name


def test_dashboard_shows_the_queues_and_the_function(dashboard, dashboard_inputs):
    catalog = json.loads(CATALOG_PATH.read_text())
    rows = metric_rows(dashboard)
    sqs = {(r["name"], r["dimensions"]["QueueName"]) for r in rows if r["namespace"] == "AWS/SQS"}
    work, dlq = catalog["resources"]["sqs_queue"], catalog["resources"]["dead_letter_queue"]
    assert {("ApproximateNumberOfMessagesVisible", work), ("ApproximateNumberOfMessagesNotVisible", work),
            ("ApproximateAgeOfOldestMessage", work), ("ApproximateNumberOfMessagesVisible", dlq)} <= sqs
    assert {d for _, d in sqs} == {work, dlq}
    function = {(r["name"], r["dimensions"]["FunctionName"]) for r in rows if r["namespace"] == "AWS/Lambda"}
    name = dashboard_inputs["function_name"]
    assert {("Invocations", name), ("Errors", name), ("Throttles", name), ("Duration", name),
            ("ConcurrentExecutions", name)} == function
    assert {r["namespace"] for r in rows} == {dashboard_inputs["namespace"], "AWS/SQS", "AWS/Lambda"}


def test_dashboard_is_fed_by_the_deployed_function(root):
    call = root.module.modules["dashboard_body"]
    assert call["function_name"] == "${module.file_processor.function_name}"
    (dashboard,) = root.module.resources_of_type("aws_cloudwatch_dashboard").values()
    assert dashboard["dashboard_body"] == "${module.dashboard_body.json}"


def test_function_alarms_on_errors_and_throttles(root):
    function = root.child("file_processor")
    alarms = function.module.resources_of_type("aws_cloudwatch_metric_alarm")
    by_metric = {evaluate(a["metric_name"], function): a for a in alarms.values()}
    assert set(by_metric) == {"Errors", "Throttles"}
    for alarm in by_metric.values():
        assert evaluate(alarm["namespace"], function) == "AWS/Lambda"
        assert alarm["dimensions"] == {"FunctionName": "${aws_lambda_function.this.function_name}"}
        assert evaluate(alarm["statistic"], function) == "Sum"
        assert evaluate(alarm["comparison_operator"], function) == "GreaterThanThreshold"
        assert evaluate(alarm["threshold"], function) == 0
        assert alarm["alarm_actions"] == "${var.alarm_actions}"
    call = root.module.modules["file_processor"]
    assert call["alarm_actions"] == "${var.alarm_actions}"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([str(Path(__file__))]))
