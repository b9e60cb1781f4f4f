"""nginx in front of three authsvc and two portal processes: logins succeed whichever process
each request reaches, requests really are spread, operators' endpoints stay private, and a
browser whose process dies reconnects through nginx to another."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import aiohttp

from mobile_sim import PhoneApp
from tests.cluster.conftest import open_qr_page, portal_login, socket
from tests.support.browser import next_state, wait_for_state
from tests.support.hall import C1, WANG
from tools.cluster import Cluster

GAUGE = re.compile(r"^qrauth_websockets_active (\S+)$", re.M)
TICKET_ROUTE = re.compile(r"^/(?:ws/tickets|api/tickets|api/mobile/tickets)/([A-Za-z0-9_-]+)")


async def wang(cluster: Cluster, folder: Path, http: aiohttp.ClientSession) -> PhoneApp:
    phone = PhoneApp.open(folder / "phone-wang", cluster.authsvc_url, session=http)
    await phone.apply_ecard(WANG[1], WANG[0], WANG[2])
    return phone


async def test_logins_succeed_wherever_each_request_lands(
    cluster: Cluster, browser: aiohttp.ClientSession, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Three complete portal logins through nginx, round robin except for the requests that
    name a ticket: every login lands in the user centre although its requests were answered by
    several authsvc and both portal processes (nginx's access log says which)."""
    phone = await wang(cluster, tmp_path, http)
    for _ in range(3):
        before = len(cluster.hits())
        landed = await portal_login(cluster, browser, phone, credit_code=C1)
        assert landed.status == 200 and landed.url.path == f"/uc/{C1}"
        one_login = cluster.hits()[before:]
        authsvc = {h.upstream for h in one_login if h.upstream in _addresses(cluster.authsvc)}
        portals = {h.upstream for h in one_login if h.upstream in _addresses(cluster.portals)}
        assert len(authsvc) >= 2, one_login  # browser, phone and portal met different processes
        assert len(portals) == 2, one_login  # the session cookie of one portal works on the other
        browser.cookie_jar.clear()  # a fresh browser profile for the next login
    spread = Counter(h.upstream for h in cluster.hits() if not TICKET_ROUTE.match(h.path))
    assert {p.address for p in [*cluster.authsvc, *cluster.portals]} <= set(spread)
    busiest, idlest = (
        max(spread[p.address] for p in cluster.authsvc),
        min(spread[p.address] for p in cluster.authsvc),
    )
    assert idlest * 3 >= busiest, spread  # round robin: no process starved
    # (a ticket's own requests go by its id: three tickets may well meet one process)


async def test_a_tickets_socket_and_phone_steps_meet_one_process(
    cluster: Cluster, browser: aiohttp.ClientSession, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """nginx chooses the process of a ticket's socket, long poll and phone steps by the ticket
    id (consistent hash), so the phone's pushes are handed over in-process;
    other requests stay round robin, and different tickets still spread over the processes."""
    phone = await wang(cluster, tmp_path, http)
    before = len(cluster.hits())
    landed = await portal_login(cluster, browser, phone, credit_code=C1)
    assert landed.status == 200 and landed.url.path == f"/uc/{C1}"
    one_login = cluster.hits()[before:]
    bound = [h for h in one_login if TICKET_ROUTE.match(h.path)]
    assert {h.path.rsplit("/", 1)[-1] for h in bound} >= {"scan", "face", "confirm"}, one_login
    assert len({h.upstream for h in bound}) == 1, bound
    assert len({h.upstream for h in one_login if h.upstream in _addresses(cluster.authsvc)}) >= 2

    before = len(cluster.hits())
    ids = [f"affinity{n:02d}" for n in range(30)]
    for ticket_id in ids * 2:  # no such tickets: authsvc refuses them, nginx still chooses
        async with http.post(f"{cluster.authsvc_url}/api/tickets/{ticket_id}/poll", json={}):
            pass
    chosen: dict[str, set[str]] = {}
    for hit in cluster.hits()[before:]:
        chosen.setdefault(hit.path.split("/")[3], set()).add(hit.upstream)
    assert set(chosen) == set(ids) and all(len(u) == 1 for u in chosen.values()), chosen
    assert set().union(*chosen.values()) == _addresses(cluster.authsvc), chosen


def _addresses(processes: list) -> set[str]:  # type: ignore[type-arg]
    return {p.address for p in processes}


async def test_metrics_and_admin_api_are_not_public(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    """/metrics and /api/admin/ are 404 through the public server blocks; the admin API answers
    on the operators' block, and each process's /metrics on its own port."""
    auth = {"Authorization": f"Bearer {cluster.admin_token}"}
    for url in (
        cluster.authsvc_url + "/metrics",
        cluster.portal_url + "/metrics",
        cluster.authsvc_url + "/api/admin/audit",
        cluster.authsvc_url + "/api/admin/../api/admin/audit",
        cluster.authsvc_url + "/api/%61dmin/audit",
    ):
        async with http.get(url, headers=auth) as response:
            assert response.status == 404, url
    async with http.get(cluster.ops_url + "/api/admin/audit", headers=auth) as response:
        assert response.status == 200
    for process in [*cluster.authsvc, *cluster.portals]:
        async with http.get(process.url + "/metrics") as response:
            assert response.status == 200
            assert "# TYPE" in await response.text()


async def _holder(cluster: Cluster, http: aiohttp.ClientSession) -> int:
    """Which authsvc process holds the one open browser WebSocket (its metrics say so)."""
    for index, process in enumerate(cluster.authsvc):
        async with http.get(process.url + "/metrics") as response:
            match = GAUGE.search(await response.text())
        if match and float(match.group(1)) >= 1:
            return index
    raise AssertionError("no process holds the socket")


async def test_browser_reconnects_through_nginx_after_its_process_is_killed(
    cluster: Cluster, browser: aiohttp.ClientSession, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """kill -9 the process holding the browser's socket after the scan: the socket closes, the
    browser reconnects to the same URL, nginx sends it to a live process, which gives the
    current state (scanned) and then the confirmation."""
    phone = await wang(cluster, tmp_path, http)
    ticket = await open_qr_page(cluster, browser, "legal_rep")
    ws = await socket(cluster, browser, ticket)
    assert (await next_state(ws))["state"] == "pending"
    result = await phone.scan(ticket["qr_text"])
    await wait_for_state(ws, "scanned")
    victim = await _holder(cluster, http)
    cluster.authsvc[victim].kill()
    while (await ws.receive(timeout=20)).type is aiohttp.WSMsgType.TEXT:
        pass  # updates sent before the kill, then the close
    ws = await socket(cluster, browser, ticket)
    assert (await next_state(ws, timeout=20))["state"] == "scanned"
    await phone.choose(result.account("legal_rep", C1)["key"])
    await phone.face_check("pass")
    await phone.confirm()
    redirect = (await wait_for_state(ws, "confirmed", timeout=20))["redirect"]
    await ws.close()
    landed = await browser.get(redirect)
    assert landed.status == 200 and landed.url.path == f"/uc/{C1}"
