"""Thin aiohttp handlers: parse → core → store → respond."""
