"""Checks the Lambda packages built by scripts/package-functions.sh (dist/<crate>.zip).

Each zip must hold one executable `bootstrap` that Lambda's provided.al2023 runtime can start:
an ELF for the architecture Terraform deploys, needing no glibc symbol newer than 2.34 (the
glibc of Amazon Linux 2023) or linked statically. Without zips the tests skip, unless
REQUIRE_PACKAGES=1 (CI packages first), where a missing zip fails.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tomllib
import zipfile
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from terraform_model import INFRA_DIR, evaluate, root_scope

REPO_ROOT = INFRA_DIR.parent
DIST_DIR = Path(os.environ.get("DIST_DIR", REPO_ROOT / "dist"))
REQUIRED = os.environ.get("REQUIRE_PACKAGES") == "1"
AL2023_GLIBC = (2, 34)
ELF_MACHINE = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}
AL2023_INTERPRETER = {"x86_64": "/lib64/ld-linux-x86-64.so.2", "arm64": "/lib/ld-linux-aarch64.so.1"}


def function_crates() -> list[str]:
    """Crates under functions/ that have a binary (src/main.rs or a [[bin]] table)."""
    crates = []
    for manifest in sorted((REPO_ROOT / "functions").glob("*/Cargo.toml")):
        parsed = tomllib.loads(manifest.read_text())
        if parsed.get("bin") or (manifest.parent / "src" / "main.rs").exists():
            crates.append(parsed["package"]["name"])
    return crates


def deployed_architecture() -> str:
    """The architecture Terraform deploys (LAMBDA_ARCHITECTURE overrides the variable default)."""
    if "LAMBDA_ARCHITECTURE" in os.environ:
        return os.environ["LAMBDA_ARCHITECTURE"]
    scope = root_scope()
    return evaluate(scope.module.variables["architecture"]["default"], scope)


def required_glibc_versions(elf: ELFFile) -> list[tuple[int, ...]]:
    versions = []
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for _needed, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    match = re.fullmatch(r"GLIBC_(\d+(?:\.\d+)*)", aux.name)
                    if match:
                        versions.append(tuple(int(p) for p in match.group(1).split(".")))
    return versions


PACKAGES = sorted(DIST_DIR.glob("*.zip"))


def test_every_function_crate_is_packaged():
    if not REQUIRED:
        pytest.skip("REQUIRE_PACKAGES is not 1: packaging not part of this run")
    assert PACKAGES, f"no zip in {DIST_DIR}: run scripts/package-functions.sh"
    missing = [c for c in function_crates() if not (DIST_DIR / f"{c}.zip").exists()]
    assert not missing, f"function crates without a package in {DIST_DIR}: {missing}"


@pytest.mark.parametrize("package", PACKAGES, ids=[p.name for p in PACKAGES])
def test_package_holds_a_bootstrap_al2023_can_run(package: Path):
    architecture = deployed_architecture()
    with zipfile.ZipFile(package) as archive:
        assert archive.namelist() == ["bootstrap"], f"{package.name}: {archive.namelist()}"
        info = archive.getinfo("bootstrap")
        mode = info.external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111, f"bootstrap is not executable (mode {oct(mode)})"
        binary = archive.read("bootstrap")

    elf = ELFFile(io.BytesIO(binary))
    assert elf.elfclass == 64
    assert elf["e_machine"] == ELF_MACHINE[architecture], (
        f"{package.name} is {elf['e_machine']} but Terraform deploys {architecture}"
    )
    interpreters = [
        segment.get_interp_name() for segment in elf.iter_segments() if segment["p_type"] == "PT_INTERP"
    ]
    glibc = required_glibc_versions(elf)
    if interpreters:
        assert interpreters == [AL2023_INTERPRETER[architecture]]
        assert glibc, "dynamically linked but requires no GLIBC version: not a glibc binary?"
        newest = max(glibc)
        assert newest <= AL2023_GLIBC, (
            f"{package.name} needs GLIBC_{'.'.join(map(str, newest))}; Amazon Linux 2023 has 2.34"
        )
        linkage = f"dynamic, needs up to GLIBC_{'.'.join(map(str, newest))}"
    else:
        linkage = "static"
    print(f"{package.name}: {architecture}, bootstrap {len(binary)} bytes "
          f"({len(binary) / 2**20:.1f} MiB), zip {package.stat().st_size} bytes, {linkage}")
