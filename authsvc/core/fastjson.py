"""JSON on the hot path, through orjson: compact, UTF-8 as is (no \\u escapes), and several
times the standard library's speed. Nesting deeper than 1024 or a lone surrogate is an error
(`ValueError` when reading, `TypeError` when writing)."""

from __future__ import annotations

from typing import Any

import orjson

loads = orjson.loads


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def dumps_bytes(value: Any) -> bytes:
    return orjson.dumps(value)
