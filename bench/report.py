"""The one JSON object `python -m bench` prints: headline figures first, then the detail."""

from __future__ import annotations

import math
from typing import Any

# Other processes busier than this (in cores) during a measured phase: the run is contended.
CONTENDED = 0.2
# The issue's targets: reported, never asserted.
TARGETS = {
    "server_cpu_ms_per_login": ("<=", 1.0),
    "logins_per_s": (">=", 1000.0),
    "push_p99_ms": ("<=", 10.0),
    "ws_idle_kib": ("<=", 20.0),
    "qr_ms_per_ticket": ("<=", 2.0),
}


# Issue 14's targets, each a ratio to the floor in the same run (or to the broker login):
# figure, what it is compared with ("floor", "broker" or an absolute limit), op, limit.
ISSUE_TARGETS = (
    ("server_cpu_ms_per_login", "floor", "<=", 1.6),
    ("oidc_server_cpu_ms_per_login", "broker", "<=", 1.2),
    ("logins_per_s", "floor", ">=", 0.6),
    ("push_p99_ms", "floor", "<=", 1.5),
    ("ws_idle_kib", "floor", "<=", 1.1),
    ("qr_ms_per_ticket", "", "<=", 1.0),
)


def _r(value: float, digits: int = 3) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def _per_login_ms(cpu_s: float, logins: int) -> float | None:
    return _r(cpu_s * 1e3 / logins) if logins else None


def _side(drive: dict[str, Any], idle: dict[str, Any]) -> dict[str, Any]:
    main, half = drive["main"], drive["half"]
    done = main["done"]
    return {
        "logins_per_s": main["logins_per_s"],
        "push_p50_ms": half["push_ms"]["p50"],
        "push_p99_ms": half["push_ms"]["p99"],
        "ws_idle_kib": _r(idle["kib"], 2),
        "ws_idle_sockets": idle["open"]["open"],
        "server_cpu_ms_per_login": _per_login_ms(main["cpu_s"]["server"], done),
        "redis_commands_per_login": main["redis"]["commands_per_login"],
        "redis_round_trips_per_login": main["redis"]["round_trips_per_login"],
    }


def _embedded(run: dict[str, Any]) -> dict[str, Any]:
    main, half = run["main"], run["half"]
    return {
        "embedded_server_cpu_ms_per_login": _per_login_ms(main["cpu_s"]["server"], main["done"]),
        "embedded_logins_per_s": main["logins_per_s"],
        "embedded_push_p50_ms": half["push_ms"]["p50"],
        "embedded_push_p99_ms": half["push_ms"]["p99"],
    }


def _longpoll(run: dict[str, Any]) -> dict[str, Any]:
    main, half = run["main"], run["half"]
    return {
        "longpoll_server_cpu_ms_per_login": _per_login_ms(main["cpu_s"]["server"], main["done"]),
        "longpoll_logins_per_s": main["logins_per_s"],
        "longpoll_push_p50_ms": half["push_ms"]["p50"],
        "longpoll_push_p99_ms": half["push_ms"]["p99"],
        "longpoll_redis_commands_per_login": main["redis"]["commands_per_login"],
        "longpoll_redis_round_trips_per_login": main["redis"]["round_trips_per_login"],
    }


def _measured(main: dict[str, Any], half: dict[str, Any]) -> dict[str, Any]:
    """What every login run reports: the measured closed loop and the half-load open loop."""
    done = main["done"]
    return {
        "measured_logins": done,
        "measured_logins_requested": main["requested"],
        "measured_elapsed_s": main["elapsed_s"],
        "measured_errors": main["errors"],
        "cpu_ms_per_login": {
            k: _per_login_ms(main["cpu_s"][k], done) for k in ("server", "generator", "redis")
        },
        "cpu_cores_busy": {k: _r(v / main["elapsed_s"], 2) for k, v in main["cpu_s"].items()},
        "quiet_gate": main["quiet_gate"],
        "login_ms_at_max": main["login_ms"],
        "redis": main["redis"],
        "half_load": {
            "offered_logins_per_s": half["offered_per_s"],
            "done": half["done"],
            "errors": half["errors"],
            "dropped": half["dropped"],
            "push_ms": half["push_ms"],
            "login_ms": half["login_ms"],
            "start_lag_ms": half["start_lag_ms"],
            "quiet_gate": half["quiet_gate"],
        },
    }


def _variant(run: dict[str, Any]) -> dict[str, Any]:
    """The detail of an embedded-store or long-poll run (measured and half load)."""
    return {
        "concurrency": run["best_concurrency"],
        "warmup_errors": run["warmup_errors"],
        **_measured(run["main"], run["half"]),
    }


def _phase(drive: dict[str, Any], idle: dict[str, Any]) -> dict[str, Any]:
    main, half = drive["main"], drive["half"]
    measured = _measured(main, half)
    measured["half_load"] |= {
        "push_after_confirm_response_ms": half["after_response_ms"],
        "cpu_cores_busy": {k: _r(v / half["elapsed_s"], 2) for k, v in half["cpu_s"].items()},
    }
    return {
        "ramp_logins_per_s_by_concurrency": drive["ramp"],
        "best_concurrency": drive["best_concurrency"],
        **measured,
        "push_ms_at_max": main["push_ms"],
        "idle": _idle(idle),
    }


def _idle(idle: dict[str, Any]) -> dict[str, Any]:
    opened = idle["open"]
    n = opened["open"]
    cpu = opened["cpu_s"]
    return {
        "sockets": n,
        "open_errors": opened["errors"],
        "ended_early": idle["closed"]["ended_early"],
        "rss_mib_before": _r(idle["rss_before"] / 2**20, 1),
        "rss_mib_after": _r(idle["rss_after"] / 2**20, 1),
        "tickets_via": idle["tickets"]["via"],
        "tickets_per_s": idle["tickets"]["per_s"] if idle["tickets"]["via"] == "http" else None,
        "quiet_gate": opened["quiet_gate"],
        "open_elapsed_s": opened["elapsed_s"],
        "server_cpu_ms_per_socket_open": _per_login_ms(cpu[opened["server"]], n),
        "cpu_cores_busy_while_opening_both": {
            k: _r(v / opened["window_s"], 2) for k, v in cpu.items()
        },
    }


def _oidc(facts: dict[str, Any], broker_cpu_ms: float | None) -> tuple[dict, dict]:
    """(headline figures, detail) of the complete OIDC logins."""
    run = facts["oidc"]
    done = run["done"]
    cpu_ms = _per_login_ms(run["cpu_s"]["server"], done)
    token = run.get("token_ms", {})
    figures = {
        "oidc_logins_per_s": run["logins_per_s"],
        "oidc_server_cpu_ms_per_login": cpu_ms,
        "token_ms_p50": token.get("p50"),
        "token_ms_p99": token.get("p99"),
        "oidc_errors": run["errors"],
        "oidc_over_broker_paired": run["paired"]["oidc_over_broker"],
    }
    detail = {
        "concurrency": facts["authsvc"]["best_concurrency"],
        "measured_logins": done,
        "measured_logins_requested": run["requested"],
        "measured_elapsed_s": run["elapsed_s"],
        "errors": run["errors"],
        "warmup_errors": run["warmup_errors"],
        "server_cpu_ms_more_than_broker_login": _r(cpu_ms - broker_cpu_ms)
        if cpu_ms is not None and broker_cpu_ms is not None
        else None,
        "cpu_ms_per_login": {
            k: _per_login_ms(run["cpu_s"][k], done) for k in ("server", "generator", "redis")
        },
        "cpu_cores_busy": {k: _r(v / run["elapsed_s"], 2) for k, v in run["cpu_s"].items()},
        "quiet_gate": run["quiet_gate"],
        "token_ms": token,
        "login_ms": run["login_ms"],
        "push_ms": run["push_ms"],
        "redis": run["redis"],
        "paired_turns": run["paired"],
    }
    figures |= {
        "oidc_redis_commands_per_login": run["redis"]["commands_per_login"],
        "oidc_redis_round_trips_per_login": run["redis"]["round_trips_per_login"],
    }
    return figures, detail


def _share(us: float, cpu_ms: float | None) -> float | None:
    return _r(us / (cpu_ms * 1e3), 3) if cpu_ms else None


def _others(facts: dict[str, Any]) -> float:
    """The most CPU (in cores) that processes other than ours used during a measured phase."""
    phases = [facts[t][p] for t in ("authsvc", "floor") for p in ("main", "half")]
    phases.append(facts["oidc"])
    extras = [facts["embedded"], *facts["longpoll"].values()]
    phases += [run[p] for run in extras for p in ("main", "half")]
    busy = [p["cpu_s"]["others"] / p["elapsed_s"] for p in phases if p["elapsed_s"]]
    opened = facts["authsvc_idle"]["open"]
    busy.append(opened["cpu_s"]["others"] / opened["window_s"])
    return round(max(busy), 2)


def _ratio(a: float | None, b: float | None) -> float | None:
    return _r(a / b, 2) if a is not None and b else None


def _unavoidable(
    signature_us: float, floor_ms: float | None, ours_ms: float | None
) -> dict[str, float | None]:
    """What a broker login costs beyond the floor at the least: its signatures (bench/signatures;
    since the eleventh session the page draws the QR image, so that is no longer the broker's);
    and authsvc's CPU against the floor plus that."""
    least = _r(signature_us / 1e3)
    with_floor = floor_ms + least if floor_ms is not None and least is not None else None
    return {
        "unavoidable_ms_per_login": least,
        "floor_plus_unavoidable_ms_per_login": _r(with_floor) if with_floor else None,
        "floor_plus_unavoidable_over_floor": _ratio(with_floor, floor_ms),
        "server_cpu_over_floor_plus_unavoidable": _ratio(ours_ms, with_floor),
    }


def compose(plan: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    ours = _side(facts["authsvc"], facts["authsvc_idle"])
    floor = _side(facts["floor"], facts["floor_idle"])
    oidc, oidc_detail = _oidc(facts, ours["server_cpu_ms_per_login"])
    per_login, signature_detail = facts["signatures"]
    longpoll, floor_longpoll = (_longpoll(facts["longpoll"][n]) for n in ("authsvc", "floor"))
    out: dict[str, Any] = {
        **ours,
        "qr_ms_per_ticket": facts["qr"]["qr_ms_per_ticket"],
        **_paired_with_floor(facts["paired_floor"]),
        **oidc,
        **_embedded(facts["embedded"]),
        **longpoll,
        **{f"floor_{k}": v for k, v in floor.items()},
        **{f"floor_{k}": v for k, v in floor_longpoll.items()},
        "sign_verify_us": facts["sign_verify_us"],
        "signature_us_per_login": per_login,
        "signature_share_of_server_cpu": {
            "oidc_login": _share(per_login["total"], oidc["oidc_server_cpu_ms_per_login"]),
            "broker_login": _share(
                signature_detail["broker_login_total_us"], ours["server_cpu_ms_per_login"]
            ),
        },
        **_unavoidable(
            signature_detail["broker_login_total_us"],
            floor["server_cpu_ms_per_login"],
            ours["server_cpu_ms_per_login"],
        ),
        "others_cores_busy_max": (others := _others(facts)),
        "contended": others > CONTENDED,
        "ratios_authsvc_to_floor": {
            k: _ratio(ours[k], floor[k]) for k in ours if k != "ws_idle_sockets"
        }
        | {k: _ratio(longpoll[k], floor_longpoll[k]) for k in longpoll},
        "ratios_embedded_to_redis": {
            "server_cpu_ms_per_login": _ratio(
                _embedded(facts["embedded"])["embedded_server_cpu_ms_per_login"],
                ours["server_cpu_ms_per_login"],
            ),
            "logins_per_s": _ratio(
                _embedded(facts["embedded"])["embedded_logins_per_s"], ours["logins_per_s"]
            ),
        },
        "targets": {
            name: {
                "target": f"{op} {limit:g}",
                "measured": (value := out_value(ours, facts, name)),
                "met": None
                if value is None
                else (value <= limit if op == "<=" else value >= limit),
            }
            for name, (op, limit) in TARGETS.items()
        },
        "detail": {
            "authsvc": _phase(facts["authsvc"], facts["authsvc_idle"]),
            "oidc": oidc_detail,
            "signatures": signature_detail,
            "floor": _phase(facts["floor"], facts["floor_idle"]),
            "paired_with_floor": facts["paired_floor"],
            "embedded": _variant(facts["embedded"]),
            "longpoll": {n: _variant(facts["longpoll"][n]) for n in ("authsvc", "floor")},
            "redis": facts["redis"]
            | {"counted": "INFO commandstats calls and total_reads_processed deltas"},
            "qr": facts["qr"],
            "plan": plan,
            "machine": {
                **facts["machine"],
                "load_avg_before": [round(x, 2) for x in facts["load_avg_before"]],
                "nofile": facts["nofile"],
            },
            "purged_keys": facts["purged_keys"],
        },
    }
    out["issue_targets"] = issue_targets(out)
    return out


# Targets read on alternating turns of authsvc and the floor (bench.__main__.paired_floor_turns)
# rather than on the measured runs, which are a minute apart on a machine that drifts ±30 %.
PAIRED_WITH_FLOOR = {
    "server_cpu_ms_per_login": "server_cpu_over_floor_paired",
    "logins_per_s": "logins_per_s_over_floor_paired",
}


def _paired_with_floor(paired: dict[str, Any]) -> dict[str, Any]:
    return {
        "server_cpu_over_floor_paired": paired["server_cpu_over_floor"]["median"],
        "logins_per_s_over_floor_paired": paired["logins_per_s_over_floor"]["median"],
    }


def issue_targets(out: dict[str, Any]) -> dict[str, Any]:
    """Issue 14's targets, each a ratio (to the floor, or to the broker login) or a limit."""
    ratios = out["ratios_authsvc_to_floor"]
    found = {}
    for name, against, op, limit in ISSUE_TARGETS:
        if name in PAIRED_WITH_FLOOR:
            value = out[PAIRED_WITH_FLOOR[name]]
        elif against == "floor":
            value = ratios.get(name)
        elif against == "broker":  # alternating turns: the separate runs' drift is larger
            value = out["oidc_over_broker_paired"]
        else:
            value = out[name]
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        shown = f"{op} {limit:g}" + (f"× {against}" if against else "")
        found[name] = {"target": shown, "measured": value, "met": met}
    return found


# The one-screen table: (figure, key, whether the floor has it as `floor_` + key).
TABLE = (
    ("server CPU ms / broker login", "server_cpu_ms_per_login", True),
    ("  ÷ floor in paired turns", "server_cpu_over_floor_paired", False),
    ("broker logins / s", "logins_per_s", True),
    ("  ÷ floor in paired turns", "logins_per_s_over_floor_paired", False),
    ("push p50 ms, half load", "push_p50_ms", True),
    ("push p99 ms, half load", "push_p99_ms", True),
    ("RSS KiB / idle socket", "ws_idle_kib", True),
    ("Redis commands / login", "redis_commands_per_login", True),
    ("Redis round trips / login", "redis_round_trips_per_login", True),
    ("floor + signatures, ms", "floor_plus_unavoidable_ms_per_login", False),
    ("  ÷ floor (the least ratio)", "floor_plus_unavoidable_over_floor", False),
    ("  authsvc ÷ it", "server_cpu_over_floor_plus_unavoidable", False),
    ("OIDC login server CPU ms", "oidc_server_cpu_ms_per_login", False),
    ("OIDC ÷ broker login CPU, paired", "oidc_over_broker_paired", False),
    ("OIDC logins / s", "oidc_logins_per_s", False),
    ("token p50 ms", "token_ms_p50", False),
    ("QR ms / ticket", "qr_ms_per_ticket", False),
    ("embedded: server CPU ms / login", "embedded_server_cpu_ms_per_login", False),
    ("embedded: logins / s", "embedded_logins_per_s", False),
    ("embedded: push p50 ms", "embedded_push_p50_ms", False),
    ("embedded: push p99 ms", "embedded_push_p99_ms", False),
    ("long-poll: server CPU ms / login", "longpoll_server_cpu_ms_per_login", True),
    ("long-poll: push p50 ms", "longpoll_push_p50_ms", True),
    ("long-poll: push p99 ms", "longpoll_push_p99_ms", True),
)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def table(out: dict[str, Any]) -> str:
    """Each headline figure: authsvc, floor, ratio, the issue's target and whether it is met."""
    targets = out["issue_targets"]
    lines = [
        f"{'figure':34} {'authsvc':>9} {'floor':>9} {'ratio':>7}  {'target':18} met",
        "-" * 84,
    ]
    for label, key, has_floor in TABLE:
        ours, floor_key = _cell(out.get(key)), f"floor_{key}"
        floor = _cell(out.get(floor_key)) if has_floor else ""
        ratio = _cell(_ratio(out.get(key), out.get(floor_key))) if has_floor else ""
        goal = targets.get(key, {})
        met = {True: "yes", False: "NO", None: ""}[goal.get("met")]
        shown = _cell(goal.get("measured"))
        measured = f" ({shown})" if goal and shown not in (ratio, ours) else ""
        target = f"{goal.get('target', '')}{measured}" if goal else ""
        lines.append(f"{label:34} {ours:>9} {floor:>9} {ratio:>7}  {target:18} {met}")
    contended = "contended" if out["contended"] else "not contended"
    lines.append(f"others' CPU at most {out['others_cores_busy_max']} cores ({contended})")
    return "\n".join(lines)


def out_value(ours: dict[str, Any], facts: dict[str, Any], name: str) -> float | None:
    return facts["qr"]["qr_ms_per_ticket"] if name == "qr_ms_per_ticket" else ours[name]
