#!/usr/bin/env bash
# Runs every bench of the workspace (the `bench` targets `cargo metadata` lists), one after the
# other, and ends with one table of their figures, each next to the peer measured in the same run.
#
# Convention for benches: besides its own report, a bench prints each figure it measures as one
# line of six `|`-separated fields on stdout:
#
#   BENCH|<bench>|<figure>|<system>|<value>|<unit>
#   BENCH|vs_moto|SQS send+receive+delete|emulator|10234|messages/s
#   BENCH|vs_moto|SQS send+receive+delete|moto|812|messages/s
#
# <bench> is the bench target's name, <figure> what was measured (the same words for every
# system measured), <system> who was measured: this project's code (`emulator`,
# `file-processor`) or the peer run alongside it (`moto`, `aws-cli`, `pyarrow`, ...). <value> is
# a plain number; no field may contain `|`. The table puts the systems of one figure on one row.
#
# Usage: scripts/bench.sh [bench ...]   (no argument: every bench; names are bench targets)
# Each bench's full output is kept in $BENCH_LOG_DIR (default target/bench-logs). Exits non-zero
# when a bench fails; the table still shows what the others measured.
set -euo pipefail
cd "$(dirname "$0")/.."

log_dir="${BENCH_LOG_DIR:-target/bench-logs}"
mkdir -p "$log_dir"

# "<package> <bench>" per bench target of the workspace's own packages.
benches=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    for target in package["targets"]:
        if "bench" in target["kind"]:
            print(package["name"], target["name"])
')

# One release build of every bench, with the workspace's feature set; each bench below runs with
# `--workspace` too, so none rebuilds a dependency (DataFusion above all) with the narrower
# feature set a `-p <package>` build would pick. The benches that start the emulator get the
# `emulator` binary this build made instead of building one themselves.
# All benches are built even when some are named: that build is also what refreshes the release
# `emulator` binary (built for the emulator package's benches, with the dev-dependencies' features
# unified as in every bench build; a plain `cargo build --release` is another feature set).
cargo bench --workspace --no-run
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export EMULATOR_BIN="${EMULATOR_BIN:-$target_dir/release/emulator}"

failed=()
logs=()
while read -r package bench; do
  [ -n "$package" ] || continue
  if [ "$#" -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$bench"; then
    continue
  fi
  logs+=("$log_dir/$bench.log")
  printf '\n== %s (package %s): cargo bench --workspace --bench %s (%s)\n' "$bench" "$package" "$bench" "$(date +%T)"
  if ! cargo bench --workspace --bench "$bench" 2>&1 | tee "$log_dir/$bench.log"; then
    failed+=("$bench")
  fi
done <<< "$benches"

if [ "${#logs[@]}" -eq 0 ]; then
  echo "no bench matches: $*" >&2
  exit 2
fi

printf '\n==================== bench figures ====================\n'
cat "${logs[@]}" | grep -a '^BENCH|' | awk -F'|' '
  NF == 6 {
    key = $2 "|" $3
    if (!(key in row)) { order[++rows] = key; row[key] = "" }
    row[key] = row[key] sprintf("  %s %s %s", $4, $5, $6)
  }
  END {
    printf "%-12s %-40s %s\n", "bench", "figure", "system value unit ..."
    for (i = 1; i <= rows; i++) {
      split(order[i], part, "|")
      printf "%-12s %-40s%s\n", part[1], part[2], row[order[i]]
    }
  }'
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s (logs in %s)\n' "${failed[*]}" "$log_dir"
  exit 1
fi
