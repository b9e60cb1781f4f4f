"""Fixtures of the integration suite: `hall` (authsvc + portal on SQLite and PostgreSQL)."""

from tests.support.hall import hall  # noqa: F401 — a fixture, re-exported for the suite
