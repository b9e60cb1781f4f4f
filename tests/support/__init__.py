"""Shared test support: real servers on 127.0.0.1, real Redis with per-test prefixes."""
