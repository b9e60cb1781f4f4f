"""The one wait-until-ready helper for the demo (tools/demo.py), the bench (bench/servers.py) and
the tests (tests/support/servers.py): poll a server's readiness URL until it answers 200, fail
at once when its process has exited, and give up after a deadline."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable

import aiohttp


class ServerExited(RuntimeError):
    """The process being waited for exited before it was ready."""


async def wait_until_ready(
    url: str,
    *,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = 30.0,
    interval: float = 0.1,
    describe: Callable[[], str] = lambda: "",
) -> None:
    """Return once GET `url` answers 200. ServerExited if `process` ends first, TimeoutError
    after `timeout` seconds; both messages end with `describe()` (e.g. the server's log tail)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    request_timeout = aiohttp.ClientTimeout(total=max(interval * 20, 2.0))
    async with aiohttp.ClientSession(timeout=request_timeout) as http:
        while True:
            if process is not None and process.poll() is not None:
                raise ServerExited(f"{url}: exited with {process.returncode}\n{describe()}")
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if loop.time() > deadline:
                raise TimeoutError(f"{url}: not ready after {timeout} s\n{describe()}")
            await asyncio.sleep(interval)
