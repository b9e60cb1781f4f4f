"""Fixtures for the mobile_sim suite: a real authsvc whose client has a real accounts endpoint,
and phones made in the test's folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mobile_sim import PhoneApp
from tests.mobile_sim.support import ZHANG, accounts_app, serve
from tests.support import people
from tests.support.servers import Broker, running_authsvc

MakePhone = Callable[..., Awaitable[PhoneApp]]


@pytest.fixture
async def accounts_calls() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def accounts_url(accounts_calls: list[dict[str, Any]]) -> AsyncIterator[str]:
    """A tiny real portal accounts endpoint answering {"accounts": [...]} (docs/api.md)."""
    async with serve(accounts_app(accounts_calls)) as base:
        yield base + "/api/accounts"


@pytest.fixture
async def hall(
    tmp_path: Path, store_kind: str, redis_prefix: str, accounts_url: str
) -> AsyncIterator[Broker]:
    """authsvc (memory and Redis) whose `hall` client asks the accounts endpoint."""
    (tmp_path / "broker").mkdir()
    async with running_authsvc(
        tmp_path / "broker",
        store_kind=store_kind,
        prefix=redis_prefix,
        accounts_endpoint=accounts_url,
    ) as broker:
        yield broker


@pytest.fixture
async def memory_hall(tmp_path: Path, accounts_url: str) -> AsyncIterator[Broker]:
    """The same, on the memory store only (for the CLI and the page)."""
    (tmp_path / "broker").mkdir()
    async with running_authsvc(tmp_path / "broker", accounts_endpoint=accounts_url) as broker:
        yield broker


@pytest.fixture
async def make_phone(tmp_path: Path) -> AsyncIterator[MakePhone]:
    """`await make_phone(url, person=ZHANG, place=None, trace=None, apply=True)`."""
    made: list[tuple[PhoneApp, aiohttp.ClientSession | None]] = []

    async def make(
        url: str,
        *,
        person: dict[str, str] = ZHANG,
        place: str | None = None,
        trace: aiohttp.TraceConfig | None = None,
        apply: bool = True,
    ) -> PhoneApp:
        session = aiohttp.ClientSession(trace_configs=[trace]) if trace else None
        phone = PhoneApp.open(
            tmp_path / f"phone-{len(made)}",
            url,
            place=place,
            session=session,
            faces_dir=people.faces_dir(),
        )
        made.append((phone, session))
        if apply:
            await phone.apply_ecard(person["name"], person["id_number"], person["phone"])
        return phone

    yield make
    for phone, session in made:
        await phone.close()
        if session is not None:
            await session.close()
