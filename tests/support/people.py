"""The people tests log in as: a card registry file in each test's folder, and their faces in
one folder per test run, apart from any phone's home folder (as in the demo). The test faces
are derived from a fixed seed, so every registry a test writes knows the same faces."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from tools.people import NOT_IN_REGISTRY, demo_people, seed

TEST_SEED = b"qrauth-test-faces|"
TEST_HOLDERS: list[dict[str, Any]] = [
    {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"},
    {"name": "李四", "id_number": "110105194912310038", "phone": "13900139000"},
    {"name": "吴海涛", "id_number": "230106197802031895", "phone": "13945100002"},
]
SEALED = {"name": "钱芳", "id_number": "230104199303021883", "phone": "13804510009"}
REGISTRY_LOST = {"name": "周磊", "id_number": "230102199208271785", "phone": "13804510008"}
UNKNOWN = NOT_IN_REGISTRY


@cache
def faces_dir(_: object = None) -> Path:
    """The faces folder of this test run (the argument is ignored: one folder for all)."""
    folder = Path(tempfile.mkdtemp(prefix="qrauth-faces-"))
    seed(folder / "registry.json", folder / "faces", everyone(), derive_from=TEST_SEED)
    return folder / "faces"


def everyone() -> list[dict[str, Any]]:
    return demo_people() + TEST_HOLDERS


def world(folder: Path) -> Path:
    """Seed (once) the registry under `folder`; returns the registry file."""
    path = folder / "registry.json"
    if not path.exists():
        seed(path, faces_dir(), everyone(), derive_from=TEST_SEED)
    return path
