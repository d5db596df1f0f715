"""Parses OpenMetrics text from stdin with the Prometheus project's own parser and prints every
sample as JSON: [[name, {labels}, value], ...]. Used by the console tests, so /metrics is checked
by a real Prometheus text parser rather than by string matching."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
json.dump(samples, sys.stdout)
