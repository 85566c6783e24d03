"""Every environment variable the settings read has its row in the docs' configuration table."""

from __future__ import annotations

import ast
import re

from deploy.services import ROOT

SETTINGS = [
    ROOT / "pricehub" / name
    for name in ("settings.py", "tunables.py", "security.py", "settings_production.py")
]
TABLE = ROOT / "docs" / "operations.md"
# The functions of the settings that read one environment variable, named by their first argument.
READERS = {"env", "_env_items"}


def variables_read(path) -> set[str]:
    """Return the names of the environment variables that the settings module at path reads."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        function = node.func
        reader = function.value if isinstance(function, ast.Attribute) else function
        first = node.args[0]
        reads = isinstance(reader, ast.Name) and reader.id in READERS
        if reads and isinstance(first, ast.Constant):
            names.add(first.value)
    return names


def variables_documented() -> set[str]:
    """Return the variables named in the first column of the configuration table."""
    section = TABLE.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])}


def test_it_finds_the_variables_the_settings_read():
    read = set().union(*map(variables_read, SETTINGS))
    assert {"REDIS_URL", "DATABASE_URL", "REFRESH_HOT_SECONDS", "CSRF_TRUSTED_ORIGINS"} <= read


def test_every_variable_the_settings_read_is_in_the_configuration_table():
    read = set().union(*map(variables_read, SETTINGS))
    assert sorted(read - variables_documented()) == []
