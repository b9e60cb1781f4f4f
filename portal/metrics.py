"""Prometheus metrics of one portal app (its own registry: tests run several apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "portal_http_requests_total",
            "Requests by method, route and status class",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "portal_http_request_seconds",
            "Time to answer a request",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.database_errors = Counter(
            "portal_database_errors_total",
            "Requests refused because the database failed",
            registry=r,
        )
