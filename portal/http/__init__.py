"""Thin aiohttp handlers: parse → rules/services → respond."""
