"""The import contracts of pyproject.toml, run on a copy of the packages with imports added."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from deploy.services import ROOT

CONFIG = ROOT / "pyproject.toml"
PACKAGES = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["root_packages"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# One import against each contract: (contract id, importer, imported, the report's line).
BREACHES = [
    ("simulator", "aggregation.services", "mock_exchange_app", "aggregation.services -> mock"),
    ("packages", "exchanges.quotes", "aggregation.models", "exchanges.quotes -> aggregation"),
    ("pure-core", "aggregation.candles", "django", "aggregation.candles -> django"),
    ("entry-points", "aggregation.selectors", "aggregation.api", "selectors -> aggregation.api"),
    ("acyclic", "aggregation.methods", "aggregation.aggregate", ".methods -> .aggregate"),
]


def _not_python(folder: str, names: list[str]) -> list[str]:
    return [
        name
        for name in names
        if name == "__pycache__" or not (name.endswith(".py") or Path(folder, name).is_dir())
    ]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Return a copy of the packages' Python files and of pyproject.toml, to edit."""
    shutil.copy(CONFIG, tmp_path)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_not_python)
    return tmp_path


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    chosen = [f"--contract={contract}" for contract in contracts]
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", *chosen],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )


def add_import(tree: Path, importer: str, imported: str) -> None:
    module = tree / f"{importer.replace('.', '/')}.py"
    future = "from __future__ import annotations\n"
    module.write_text(module.read_text().replace(future, f"{future}import {imported}\n", 1))


def test_it_keeps_every_contract_on_the_code_as_it_is(tree):
    done = lint_imports(tree)
    assert done.returncode == 0, done.stdout
    assert " kept, 0 broken." in done.stdout


@pytest.mark.parametrize(("contract", "importer", "imported", "shown"), BREACHES)
def test_it_breaks_a_contract_when_an_import_goes_against_it(
    tree, contract, importer, imported, shown
):
    add_import(tree, importer, imported)
    done = lint_imports(tree, contract)
    assert done.returncode == 1
    assert "Contracts: 0 kept, 1 broken." in done.stdout
    assert shown in done.stdout
