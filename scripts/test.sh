#!/usr/bin/env bash
# The test command (README "Set-up"): the whole workspace's tests, with the Python clients they
# drive the emulator with (aws CLI, boto3, awslambdaric, pyarrow, DuckDB, PyAthena, awswrangler)
# installed into a private virtualenv first, so it passes on a fresh machine without set-up.
#
#   scripts/test.sh [cargo test arguments...]      e.g. scripts/test.sh -p file-processor
#   (without -p/--package it tests the whole workspace)
#
# - The virtualenv lives in ${SKIPDB_TEST_VENV:-~/.cache/skip-the-database/test-venv} and is
#   reused while scripts/test-requirements.txt and the Python version stay the same; otherwise it
#   is rebuilt. Nothing is installed system-wide.
# - Its bin/ goes first on PATH, so the tests' `python3` and `aws` are the pinned ones.
# - SKIPDB_TEST_TOOLS=required: a test whose tool is missing fails instead of skipping, because
#   this command promises the tools. (A bare `cargo test` outside this script may skip them and
#   says so with a `SKIPPED:` line.)
# Needs: Rust (cargo) and Python 3 with its venv module (Debian: apt-get install python3-venv).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
requirements="$repo/scripts/test-requirements.txt"
venv="${SKIPDB_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/skip-the-database/test-venv}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "scripts/test.sh needs Python 3 with venv and ensurepip (Debian: apt-get install python3-venv)" >&2
    exit 1
fi

wanted="$( { "$python" --version 2>&1; cat "$requirements"; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.skipdb-requirements"
if [[ ! -x "$venv/bin/python3" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    echo "== test clients: creating $venv from scripts/test-requirements.txt" >&2
    started=$SECONDS
    "$python" -m venv --clear "$venv"
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
    echo "== test clients ready in $((SECONDS - started)) s" >&2
fi

export PATH="$venv/bin:$PATH"
export SKIPDB_TEST_TOOLS=required
cd "$repo"
# Build first: `cargo test --workspace` also builds the `emulator` binary (its package has
# integration tests), with the whole workspace's feature selection. The end-to-end tests run that
# binary (EMULATOR_BIN) instead of building it again as `-p emulator`, whose different feature
# selection would compile the query engine a second time.
selection=(--workspace)
for arg in "$@"; do
    case "$arg" in -p | --package | -p?* | --package=*) selection=() ;; esac
done
cargo test "${selection[@]}" --no-run "$@"
if [[ ${#selection[@]} -gt 0 ]]; then
    target_dir=$(cargo metadata --format-version 1 --no-deps | "$venv/bin/python3" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    export EMULATOR_BIN="${EMULATOR_BIN:-$target_dir/debug/emulator}"
fi
# --no-fail-fast: every failing test binary is reported, not only the first.
exec cargo test "${selection[@]}" --no-fail-fast "$@"
