"""One logging setup for every socpipe process.

JSON lines when stderr is not a terminal (what log collectors want), a readable console when it is.
Context bound with `structlog.contextvars.bound_contextvars` (tenant, topic, partition, offset, stage)
is merged into every line, so workers bind once per message instead of passing it around.
"""

from __future__ import annotations

import logging
import sys

import structlog

_state = {"configured": False}


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Configure structlog and the standard library once; later calls only change the level."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=not _state["configured"],
    )
    # Libraries (kafka-python, elasticsearch) log through the standard library; keep them quiet.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
    # kafka-python warns about transient metadata gaps (a topic just created) that it recovers from.
    logging.getLogger("kafka").setLevel(max(numeric, logging.ERROR))
    _state["configured"] = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
