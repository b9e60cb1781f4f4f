"""docs/threat-model.md stays true: every test it names exists, and every asset of issue 12 has
a row."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")


def _references() -> list[tuple[str, str]]:
    """(file, test name or "") for every `tests/…py::name` and its `::name` continuations."""
    found: list[tuple[str, str]] = []
    for line in DOC.splitlines():
        last_file = ""
        for match in re.finditer(r"`(tests/[\w/]+\.py)?(::\w+)?`", line):
            path, name = match.group(1), (match.group(2) or "")[2:]
            last_file = path or last_file
            if last_file:
                found.append((last_file, name))
    return found


def test_every_named_test_exists() -> None:
    """Each referenced file exists and defines the named test."""
    references = _references()
    assert len(references) > 40
    for path, name in references:
        source = (ROOT / path).read_text(encoding="utf-8")
        if name:
            assert re.search(rf"def {name}\(", source), f"{path}::{name}"


def test_every_asset_has_a_row() -> None:
    """The assets issue 12 lists are all in the table."""
    for asset in (
        "browser secret",
        "device keys",
        "face reference",
        "pairwise salt",
        "admin token",
        "client secrets",
        "ID numbers",
    ):
        assert asset in DOC, asset
