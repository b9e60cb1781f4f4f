"""Prometheus metrics, one registry per app (no globals, so tests can run several apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.transitions = Counter(
            "qrauth_ticket_transitions_total",
            "Ticket transitions by resulting state",
            ["state"],
            registry=r,
        )
        self.websockets = Gauge("qrauth_websockets_active", "Open browser WebSockets", registry=r)
        self.push_latency = Histogram(
            "qrauth_push_latency_seconds",
            "From a ticket change being published to its push being written to the socket",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.codes_issued = Counter(
            "qrauth_codes_issued_total", "Authorization codes minted", registry=r
        )
        self.refusals = Counter(
            "qrauth_refusals_total", "Refused requests by error code", ["code"], registry=r
        )
