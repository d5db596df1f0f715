#!/usr/bin/env bash
# Static checks of the Terraform in infra/: `terraform fmt -check` and a checkov scan that must end
# with zero failed checks and zero parsing errors (skips are inline `checkov:skip` with a reason).
#
# checkov is installed into its own virtualenv because it depends on bc-python-hcl2, which ships
# the same `hcl2` module as python-hcl2 (used by infra/tests): in one environment they overwrite
# each other. Called by .ci/run; usable by hand: scripts/check-infra.sh
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
infra_dir="$repo_root/infra"
cache_dir=${SKIPDB_CACHE_DIR:-$HOME/.cache/skipdb-infra}
checkov_version=3.3.30
checkov_venv="$cache_dir/checkov-venv"
checkov="$checkov_venv/bin/checkov"

# No ~/.terraformrc on CI machines; an empty CLI config silences the warning about it.
export TF_CLI_CONFIG_FILE=${TF_CLI_CONFIG_FILE:-/dev/null}

echo "== terraform fmt -check -recursive infra"
terraform fmt -check -recursive -diff "$infra_dir"

if ! "$checkov" --version 2>/dev/null | grep -qx "$checkov_version"; then
    echo "== installing checkov $checkov_version into $checkov_venv"
    python3 -m venv "$checkov_venv"
    "$checkov_venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$checkov_version"
fi

echo "== checkov $("$checkov" --version) on infra/"
report_dir=$(mktemp -d)
trap 'rm -rf "$report_dir"' EXIT
# --skip-download: no Bridgecrew platform calls (this network only reaches package registries).
# checkov's exit code covers failed checks; parsing errors are checked from the JSON report,
# because an unparsed file is an unscanned file.
status=0
"$checkov" --directory "$infra_dir" --framework terraform --skip-download --compact --quiet \
    --output cli --output json --output-file-path "console,$report_dir/results.json" || status=$?

python3 - "$report_dir/results.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
reports = report if isinstance(report, list) else [report]
failed = parsing = 0
for r in reports:
    summary = r.get("summary", {})
    failed += summary.get("failed", 0)
    parsing += summary.get("parsing_errors", 0)
    for path in r.get("results", {}).get("parsing_errors", []):
        print(f"checkov could not parse {path}", file=sys.stderr)
    print(f"checkov: {summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, "
          f"{summary.get('skipped', 0)} skipped inline, {summary.get('parsing_errors', 0)} parsing errors")
sys.exit(1 if failed or parsing else 0)
PY
exit "$status"
