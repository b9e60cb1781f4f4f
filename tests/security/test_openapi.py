"""The OpenAPI 3.1 description (authsvc/http/openapi.yaml): it matches the route table both
ways, it is served at /openapi.json, docs/api.md agrees with it, and schemathesis fuzzing of a
real `authsvc serve` on Redis (bounded examples) finds no 5xx, no answer outside the description,
and no refused request that changed anything in Redis."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authsvc.app import create_app
from authsvc.http.openapi import description
from tests.support import servers
from tests.support.redis import REDIS_URL, new_prefix
from tests.support.servers import free_port, write_clients

EXAMPLES = 8  # per operation and generation mode: the whole fuzz stays well under a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ADMIN = {"Authorization": "Bearer fuzz-admin-token"}
API_MD = Path(__file__).parents[2] / "docs" / "api.md"


def _routes(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(servers.test_settings(tmp_path, free_port()))
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or path.startswith("/static"):
            continue
        methods = ("GET", "POST") if route.method == "*" else (route.method,)
        found |= {(m, path) for m in methods}
    return found


def _described() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in description()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_route_is_described_and_every_description_is_a_route(tmp_path: Path) -> None:
    """The route table and openapi.yaml name the same (method, path) pairs."""
    routes, described = _routes(tmp_path), _described()
    assert routes - described == set(), "routes missing from authsvc/http/openapi.yaml"
    assert described - routes == set(), "described routes that do not exist"


def test_api_md_names_every_path_and_the_ticket_fields() -> None:
    """docs/api.md has not drifted: every described path is in it, and the ticket answer lists
    exactly the fields the code returns (issue 12: `qr_svg`)."""
    text = API_MD.read_text(encoding="utf-8")
    for _, path in _described():
        stem = re.sub(r"\{[^}]+\}", "{", path).split("{")[0].rstrip("/")
        assert stem in text, path
    row = next(line for line in text.splitlines() if line.startswith("| `POST /api/tickets`"))
    documented = set(re.findall(r'"(\w+)"', row.split("201", 1)[1]))
    fields = set(description()["components"]["schemas"]["TicketView"]["properties"])
    assert documented == fields


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real `python -m authsvc serve` on Redis under a fresh prefix: (base URL, prefix)."""
    folder = tmp_path_factory.mktemp("fuzz")
    prefix, port = new_prefix(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AUTHSVC_PORT": str(port),
        "AUTHSVC_ISSUER": url,
        "REDIS_URL": REDIS_URL,
        "AUTHSVC_REDIS_PREFIX": prefix,
        "AUTHSVC_KEYS_DIR": str(folder / "keys"),
        "AUTHSVC_CLIENTS": str(write_clients(folder)),
        "AUTHSVC_AUDIT_LOG": str(folder / "audit.jsonl"),
        "AUTHSVC_ADMIN_TOKEN": ADMIN["Authorization"][7:],
    }
    with (folder / "authsvc.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "authsvc", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            _wait_ready(url, process)
            yield url, prefix
        finally:
            process.kill()
            process.wait(timeout=10)
            _purge(prefix)


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"authsvc exited with {process.returncode}")
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)  # a subprocess starting: nothing to wait on but its port
    raise TimeoutError(url)


def _purge(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def snapshot(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Every ticket and value in Redis, and the audit length — not the rate-limit counters
    (`h:`) nor the spent nonces (`o:`), which a refused request rightly moves."""
    state: dict[str, Any] = {}
    for key in sorted(client.scan_iter(match=prefix + "*", count=500)):
        kind = key[len(prefix) :].split(":", 1)[0]
        if kind == "t":
            state[key] = client.hgetall(key)
        elif kind == "v":
            state[key] = client.get(key)
    state["audit"] = client.xlen(prefix + "audit")
    return state


@pytest.mark.redis
def test_served_description_is_the_file_with_the_issuer(live: tuple[str, str]) -> None:
    """GET /openapi.json is openapi.yaml as JSON, with the issuer as its server."""
    url, _ = live
    served = requests.get(url + "/openapi.json", timeout=5).json()
    assert served["openapi"] == "3.1.0" and served["servers"] == [{"url": url}]
    assert served["paths"] == json.loads(json.dumps(description()["paths"]))


@pytest.mark.redis
def test_fuzz_no_5xx_documented_answers_refusals_change_nothing(live: tuple[str, str]) -> None:
    """Every operation, positive and negative data, EXAMPLES each: never a 5xx, the status,
    content type, headers and body as described (every error in its documented shape), and
    Redis unchanged by every refused request."""
    url, prefix = live
    spec = {**description(), "servers": [{"url": url}]}
    schema = schemathesis.openapi.from_dict(spec)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    session = requests.Session()
    counts = {"examples": 0, "refused": 0}
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.definition.raw.get("x-fuzz") is False:
                continue
            headers = ADMIN if operation.path.startswith("/api/admin") else None
            for mode in _modes(operation):
                _fuzz(operation, mode, url, prefix, client, session, headers, counts)
    finally:
        client.close()
        session.close()
    print(f"fuzz: {counts['examples']} examples, {counts['refused']} refused")
    assert counts["examples"] >= 100 and counts["refused"] > 0


def _modes(operation: Any) -> tuple[GenerationMode, ...]:
    """Positive and negative data; a form body (only /token) is not negated: every string is a
    form value, and generating "not a form" costs seconds for nothing (its refusals are pinned
    in tests/integration/test_oidc.py and test_limits.py)."""
    body = operation.definition.raw.get("requestBody", {}).get("content", {})
    if "application/x-www-form-urlencoded" in body:
        return (GenerationMode.POSITIVE,)
    return (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    url: str,
    prefix: str,
    client: redis.Redis,
    session: requests.Session,
    headers: dict[str, str] | None,
    counts: dict[str, int],
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        before = snapshot(client, prefix)
        response = case.call(base_url=url, session=session, headers=headers, timeout=30)
        counts["examples"] += 1
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            counts["refused"] += 1
            assert snapshot(client, prefix) == before, (case.method, case.path, response.text)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # nothing to negate: an operation without parameters or body (e.g. /healthz)


def _portal_settings(tmp_path: Path) -> Any:
    from portal.config import Settings as PortalSettings

    return PortalSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}",
        authsvc_issuer="http://127.0.0.1:9",
        client_id="hall",
        client_secret="hall-secret",
        session_secret=b"s" * 32,
        upload_dir=tmp_path / "uploads",
        public_url="http://127.0.0.1:8701",
    )


def test_portal_machine_routes_are_described_both_ways(tmp_path: Path) -> None:
    """The portal's JSON routes (/api/…, /openapi.json) and portal/http/openapi.yaml agree."""
    from portal.app import create_app as create_portal
    from portal.http.api import description as portal_description

    app = create_portal(_portal_settings(tmp_path))
    machine = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and (
            route.resource.canonical.startswith("/api/")
            or route.resource.canonical == "/openapi.json"
        )
    }
    described = {
        (method.upper(), path)
        for path, item in portal_description()["paths"].items()
        for method in item
    }
    assert machine == described


async def test_portal_serves_its_description(tmp_path: Path, aiohttp_client: Any) -> None:
    """GET /openapi.json on the portal: its description, its public URL as server."""
    from portal.app import create_app as create_portal

    client = await aiohttp_client(create_portal(_portal_settings(tmp_path)))
    response = await client.get("/openapi.json")
    served = await response.json()
    assert response.status == 200 and served["openapi"] == "3.1.0"
    assert served["servers"] == [{"url": "http://127.0.0.1:8701"}]
    assert "/api/accounts" in served["paths"]
