"""pyproject.toml declares exactly what the code imports: every declared dependency is used,
every imported distribution is declared (issue 9, "dependencies declared exactly")."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
FIRST_PARTY = {"authsvc", "portal", "mobile_sim", "tests", "bench", "tools"}

# Declared runtime dependencies that no `import` names, and why they are needed all the same.
LOADED_BY_NAME = {
    "aiosqlite": "SQLAlchemy's sqlite+aiosqlite:// driver, loaded from the database URL",
    "asyncpg": "SQLAlchemy's postgresql+asyncpg:// driver, loaded from the database URL",
    "reportlab": "the documents helper's PDFs (portal/documents)",
}


def _name(requirement: str) -> str:
    """`redis[hiredis]>=5.0` → `redis`, normalised as PEP 503 does."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]).lower()


def _imported(*folders: str) -> set[str]:
    """Distributions the folders import (stdlib and first-party modules left out)."""
    modules: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    modules -= FIRST_PARTY | set(sys.stdlib_module_names) | {"__future__"}
    dists = packages_distributions()
    missing = sorted(m for m in modules if m not in dists)
    assert not missing, f"imported but not installed: {missing}"
    return {_name(d) for m in modules for d in dists[m]}


RUNTIME = {_name(r) for r in PROJECT["dependencies"]}
TEST = {_name(r) for r in PROJECT["optional-dependencies"]["test"]}


def test_every_runtime_import_is_declared() -> None:
    """What authsvc, portal and mobile_sim import is in `dependencies`."""
    assert _imported("authsvc", "portal", "mobile_sim") - RUNTIME == set()


def test_every_runtime_dependency_is_used() -> None:
    """Each declared dependency is imported, or loaded by name for a stated reason."""
    unused = RUNTIME - _imported("authsvc", "portal", "mobile_sim") - set(LOADED_BY_NAME)
    assert unused == set()


def test_tests_and_bench_import_only_declared_distributions() -> None:
    """Tests, bench and tools import runtime or `test` dependencies; each `test` one is used."""
    used = _imported("tests", "bench", "tools")
    assert used - RUNTIME - TEST == set()
    assert TEST - used - {"pytest-aiohttp", "pytest-timeout"} == set()
