"""Fixtures of the security suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.security.helpers import StartServer
from tests.support.hall import hall  # noqa: F401 — a fixture, re-exported for the suite
from tests.support.servers import Broker, running_authsvc


@pytest.fixture
async def server(tmp_path: Path, store_kind: str, redis_prefix: str) -> AsyncIterator[StartServer]:
    """Start one authsvc with custom settings (clock, lifetimes, limits), on memory and on Redis."""
    async with AsyncExitStack() as stack:

        async def start(**settings: Any) -> Broker:
            return await stack.enter_async_context(
                running_authsvc(tmp_path, store_kind=store_kind, prefix=redis_prefix, **settings)
            )

        yield start
