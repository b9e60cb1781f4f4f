"""Every setting is reachable from the environment, and docs/operations.md's settings
reference is the one generated from the settings code."""

from __future__ import annotations

from dataclasses import fields

import pytest

from authsvc import config as authsvc_config
from portal import config as portal_config
from tools import settings_doc


def test_every_authsvc_setting_has_an_environment_variable() -> None:
    """Each Settings, Limits and Lifetimes field is named by one ENV entry."""
    named = {var.field for var in authsvc_config.ENV}
    wanted = {f.name for f in fields(authsvc_config.Settings)} - {"limits", "lifetimes"}
    wanted |= {f"limits.{f.name}" for f in fields(authsvc_config.Limits)}
    wanted |= {f"lifetimes.{f.name}" for f in fields(authsvc_config.Lifetimes)}
    assert wanted == named


def test_every_portal_setting_has_an_environment_variable() -> None:
    """Each portal Settings field is named by an ENV entry."""
    named = {var.field for var in portal_config.ENV}
    assert {f.name for f in fields(portal_config.Settings)} == named


def test_each_variable_reaches_its_field() -> None:
    """A value set in the environment arrives in the settings (authsvc, nested too)."""
    settings = authsvc_config.Settings.from_env(
        {"AUTHSVC_WS_HEARTBEAT": "7", "AUTHSVC_TICKET_TTL": "30", "AUTHSVC_PORT": "9001"}
    )
    assert settings.limits.ws_heartbeat == 7.0 and settings.lifetimes.pending == 30.0
    assert settings.issuer == "http://127.0.0.1:9001"
    # A server started from the environment keeps its long-lived records on disk by default.
    embedded = authsvc_config.Settings(db_path=authsvc_config.ENV_DB_DEFAULT)
    assert authsvc_config.Settings.from_env({}) == embedded


def test_a_redis_cluster_is_reached_over_plain_tcp() -> None:
    """REDIS_CLUSTER_URL takes redis:// only: the cluster's sharded pub/sub and its command
    client speak no TLS, so a rediss:// URL is refused when read, not at the first login."""
    url = "redis://10.0.0.5:7000"
    assert authsvc_config.Settings.from_env({"REDIS_CLUSTER_URL": url}).redis_cluster_url == url
    with pytest.raises(ValueError, match="redis://"):
        authsvc_config.Settings.from_env({"REDIS_CLUSTER_URL": "rediss://10.0.0.5:7000"})


def test_production_refuses_the_demo_values() -> None:
    """AUTHSVC_PRODUCTION=1 names every demo value; real values pass."""
    demo = authsvc_config.Settings.from_env({"AUTHSVC_PRODUCTION": "1"})
    assert len(authsvc_config.deployment_problems(demo, ["portal-demo-secret"])) == 6
    real = authsvc_config.Settings.from_env(
        {
            "AUTHSVC_PRODUCTION": "1",
            "AUTHSVC_ISSUER": "https://auth.example.gov.cn",
            "AUTHSVC_PAIRWISE_SALT": "a-long-random-salt-from-the-vault",
            "AUTHSVC_ADMIN_TOKEN": "x" * 32,
            "AUTHSVC_CLIENTS": "/etc/qrauth/clients.toml",
            "REDIS_URL": "redis://redis:6379/0",
        }
    )
    assert authsvc_config.deployment_problems(real, ["a-real-secret"]) == []


def test_the_committed_reference_is_the_generated_one() -> None:
    """docs/operations.md carries exactly what tools/settings_doc.py renders."""
    document = settings_doc.DOC.read_text(encoding="utf-8")
    assert settings_doc.updated(document) == document, "run `python -m tools.settings_doc`"
