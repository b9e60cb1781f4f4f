"""Log lines as JSON objects, one per line, built by structlog: every field is JSON-escaped, so a
request path or header can never forge another field (issue 12). Stdlib loggers (aiohttp,
redis) go through the same renderer. The request id is bound per request by the middleware
(contextvars); tickets appear as an 8-character prefix; codes, tokens and secrets never."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def route_to_stdlib() -> None:
    """structlog's loggers hand their events to the stdlib's `logging` (levels, handlers, and
    pytest's capture apply); create_app calls this, `configure` adds the JSON handler."""
    if structlog.is_configured():
        return
    structlog.configure(
        # filter_by_level first: a debug line below the level costs one isEnabledFor call, not
        # the context merge and timestamp the rest of the chain would build for nothing.
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Route structlog and the stdlib's logging to one JSON-lines handler on `stream`."""
    route_to_stdlib()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
