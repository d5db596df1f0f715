#!/usr/bin/env bash
# Builds every Lambda function crate of the workspace into dist/<crate>.zip for the
# provided.al2023 runtime: one executable named `bootstrap` at the root of the zip.
#
# Usage: scripts/package-functions.sh [crate ...]        (default: every function crate)
#   ARCH=x86_64|arm64   Lambda architecture; must equal Terraform's `architecture` (default x86_64)
#   DIST_DIR=dir        where the zips go (default <workspace>/dist)
#   WORKSPACE_DIR=dir   the Cargo workspace (default: this repository)
#   PACKAGE_TARGET_DIR  cargo target dir (default ~/.cache/skipdb-package/target, kept apart from
#                       the shared dev target dir so packaging never invalidates its builds)
#
# A function crate is a workspace member under functions/ with a binary target. AL2023 ships
# glibc 2.34, so the binary is linked against glibc 2.34 symbols with cargo-zigbuild's
# `<triple>.2.34` target suffix (zig supplies the linker and the glibc stubs); a binary built
# against the host's newer glibc would fail to start on Lambda with "GLIBC_2.3x not found".
# arm64 needs the aarch64 Rust standard library: `rustup target add aarch64-unknown-linux-gnu`.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
workspace=${WORKSPACE_DIR:-$repo_root}
dist=${DIST_DIR:-$workspace/dist}
target_dir=${PACKAGE_TARGET_DIR:-$HOME/.cache/skipdb-package/target}
arch=${ARCH:-x86_64}
glibc=2.34

case "$arch" in
    x86_64) triple=x86_64-unknown-linux-gnu ;;
    arm64) triple=aarch64-unknown-linux-gnu ;;
    *) echo "ARCH must be x86_64 or arm64 (Lambda's names), not '$arch'" >&2; exit 2 ;;
esac

sysroot=$(rustc --print sysroot)
if [[ ! -d "$sysroot/lib/rustlib/$triple" ]]; then
    echo "The Rust standard library for $triple is not installed." >&2
    echo "Run: rustup target add $triple   (or build with ARCH=x86_64)" >&2
    exit 1
fi

# cargo-zigbuild and zig come from PyPI wheels (no toolchain download needed).
if ! command -v cargo-zigbuild >/dev/null || ! python3 -c "import ziglang" 2>/dev/null; then
    echo "== installing cargo-zigbuild and ziglang from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check "cargo-zigbuild==0.24.0" "ziglang==0.17.1"
fi

# Function crates and their binary targets, from cargo metadata (no hand-parsing of Cargo.toml).
mapfile -t functions < <(
    cargo metadata --manifest-path "$workspace/Cargo.toml" --no-deps --format-version 1 |
        python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
functions_dir = os.path.join(meta["workspace_root"], "functions") + os.sep
members = set(meta["workspace_members"])
for package in meta["packages"]:
    if package["id"] not in members or not package["manifest_path"].startswith(functions_dir):
        continue
    bins = [t["name"] for t in package["targets"] if "bin" in t["kind"]]
    if not bins:
        continue
    # One executable per function: the only binary, or the one named after the crate.
    chosen = bins[0] if len(bins) == 1 else (package["name"] if package["name"] in bins else "")
    print(package["name"], chosen)
'
)

declare -A binary_of=()
for line in "${functions[@]}"; do
    binary_of[${line% *}]=${line#* }
done

if [[ $# -gt 0 ]]; then
    selected=("$@")
else
    selected=("${!binary_of[@]}")
fi
if [[ ${#selected[@]} -eq 0 ]]; then
    echo "No function crate with a binary target under $workspace/functions: nothing to package." >&2
    exit 1
fi

mkdir -p "$dist"
for crate in "${selected[@]}"; do
    binary=${binary_of[$crate]-}
    if [[ -z "${binary_of[$crate]+set}" ]]; then
        echo "$crate is not a function crate with a binary target (have: ${!binary_of[*]})" >&2
        exit 1
    fi
    if [[ -z "$binary" ]]; then
        echo "$crate has several binaries and none named $crate: cannot tell which is bootstrap" >&2
        exit 1
    fi

    echo "== $crate: cargo zigbuild --release --target $triple.$glibc (binary $binary)"
    started=$(date +%s)
    # strip=symbols: smaller zip, faster cold start; panics still print messages.
    CARGO_PROFILE_RELEASE_STRIP=symbols cargo zigbuild \
        --manifest-path "$workspace/Cargo.toml" --locked --release \
        --package "$crate" --bin "$binary" \
        --target "$triple.$glibc" --target-dir "$target_dir"
    built="$target_dir/$triple/release/$binary"

    # Deterministic zip (fixed timestamp, fixed mode) so an unchanged binary keeps Terraform's
    # source_code_hash and does not redeploy.
    python3 - "$built" "$dist/$crate.zip" <<'PY'
import sys, zipfile
binary, archive = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)  # regular file, rwxr-xr-x: Lambda executes it
info.compress_type = zipfile.ZIP_DEFLATED
info.create_system = 3  # Unix, so the mode bits are honoured
with open(binary, "rb") as source, zipfile.ZipFile(archive, "w") as out:
    out.writestr(info, source.read(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
PY
    size=$(stat -c %s "$built")
    zip_size=$(stat -c %s "$dist/$crate.zip")
    glibc_max=$(objdump -T "$built" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 || true)
    echo "== $crate: $dist/$crate.zip ($arch, bootstrap $size bytes, zip $zip_size bytes," \
        "max ${glibc_max:-no glibc symbols}, $(($(date +%s) - started)) s)"
done
