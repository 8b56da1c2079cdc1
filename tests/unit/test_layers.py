"""The layers hold: api → examengine → itembank, and the core reads neither the
environment nor the clock (time and randomness are passed in)."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ("examengine", "itembank")

#: Calls that read the environment, the clock or global randomness.
FORBIDDEN_CALLS = {
    ("os", "getenv"),
    ("os", "environ"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}
FORBIDDEN_MODULES = {"random"}


def core_files():
    for package in CORE:
        yield from sorted((ROOT / package).rglob("*.py"))


def reads_of_environment_or_clock(source: str, name: str) -> list[str]:
    """``name:line: what`` for every read of the environment, the clock or global random."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_CALLS:
                found.append(f"{name}:{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Import):
            found += [
                f"{name}:{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in FORBIDDEN_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{name}:{node.lineno}: from {node.module}")
            found += [
                f"{name}:{node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if (node.module, a.name) in FORBIDDEN_CALLS
            ]
    return sorted(found, key=lambda f: int(f.split(":")[1]))


def test_the_core_reads_neither_the_environment_nor_the_clock():
    files = list(core_files())
    assert files, "no core modules found"
    offences = [
        o
        for path in files
        for o in reads_of_environment_or_clock(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    ]
    assert offences == []


def test_the_checker_catches_clock_environment_and_random_reads():
    source = (
        "import os, random\nfrom datetime import datetime\nfrom os import getenv\n"
        "x = datetime.now()\ny = os.environ\n"
    )
    assert reads_of_environment_or_clock(source, "x.py") == [
        "x.py:1: import random",
        "x.py:3: from os import getenv",
        "x.py:4: datetime.now",
        "x.py:5: os.environ",
    ]


def test_import_linter_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.fail(f"import-linter is not installed next to {sys.executable}")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: What may stand at ``api``'s root beside the rooms: the front door and what every room reads.
API_ROOT_MODULES = {"__init__", "app", "settings", "logging", "clock"}


def _rooms_contract() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (rooms,) = [c for c in contracts if c.get("containers") == ["api"]]
    return rooms


def test_every_room_of_the_shell_has_its_place_in_the_import_contract():
    rooms = {
        name.strip()
        for layer in _rooms_contract()["layers"]  # type: ignore[attr-defined]
        for name in layer.split("|")
    }
    packages = {p.parent.name for p in (ROOT / "api").glob("*/__init__.py")}
    assert packages == rooms - {"app"}
    modules = {p.stem for p in (ROOT / "api").glob("*.py")}
    assert modules == API_ROOT_MODULES, "a module at api/'s root belongs in a room"
