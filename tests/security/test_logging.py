"""`authsvc serve` logs JSON lines built by structlog: a request cannot forge a field, each
refusal carries its request id and stable code, and no secret reaches the log."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tests.support.browser import BrowserLogin
from tests.support.servers import broker_processes

FORGED = '/api/x","level":"critical","forged":"yes'


@pytest.mark.redis
async def test_log_lines_are_json_with_escaped_fields_and_no_secrets(
    tmp_path: Path, redis_prefix: str, http: aiohttp.ClientSession
) -> None:
    """A path and a request id full of quotes stay inside their own fields; the browser secret
    sent with a refused poll and the QR text never appear; every line parses as JSON."""
    async with broker_processes(tmp_path, redis_prefix, count=1) as (process,):
        async with http.get(
            process.url + FORGED, headers={"X-Request-Id": 'rid-"quoted"'}
        ) as response:
            assert response.status == 404
        browser = BrowserLogin(process.url, http)
        await browser.start()
        wrong = "wrong-secret-" + browser.ticket["browser_secret"][::-1]
        async with http.post(
            process.url + browser.ticket["poll_url"], json={"secret": wrong, "version": 0}
        ) as response:
            assert response.status == 403
            poll_request_id = response.headers["X-Request-Id"]
        process.kill()
    text = next(tmp_path.glob("authsvc-*.log")).read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    refused = [line for line in lines if line.get("event") == "refused"]
    forged = next(line for line in refused if line.get("path") == FORGED)
    assert forged["request_id"] == 'rid-"quoted"' and forged["code"] == "not_found"
    assert forged["level"] == "info" and "forged" not in forged
    poll = next(line for line in refused if line.get("request_id") == poll_request_id)
    assert poll["code"] == "browser_secret_invalid"
    for secret in (wrong, browser.ticket["browser_secret"], browser.ticket["qr_text"]):
        assert secret not in text
