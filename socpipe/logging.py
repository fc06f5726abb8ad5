"""One logging setup for every socpipe process.

JSON lines when stderr is not a terminal (what log collectors want), a readable console when it is.
Context bound with `structlog.contextvars.bound_contextvars` (tenant, topic, partition, offset, stage)
is merged into every line, so workers bind once per message instead of passing it around.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType

# structlog imports rich, when installed (socpipe installs it for its tables and progress bars), to
# pretty-print exceptions, which socpipe never asks for: format_exc_info renders them as text first.
# That import was about a tenth of a warm one-event `socpipe scan` (benchmarks/engine-results.md,
# session 9), so structlog is imported with rich hidden, unless rich is loaded already.
_HIDE_RICH = "rich" not in sys.modules and "structlog" not in sys.modules
if _HIDE_RICH:
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` then raises ImportError
try:
    import structlog
finally:
    if _HIDE_RICH:
        del sys.modules["rich"]

_state = {"configured": False}


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, kafka_level: str = "CRITICAL"
) -> None:
    """Configure structlog and the standard library once; later calls only change the level.

    Everything a process writes goes through the same processors and renderer: socpipe's structlog
    lines, the standard library's (kafka-python, elastic_transport, urllib3: their `logger` name kept),
    and uncaught exceptions of the main thread and of other threads (one JSON line with the traceback
    in `exception`, instead of Python's multi-line print). kafka-python's own lines are held back to
    `kafka_level` (SOCPIPE_KAFKA_LOG_LEVEL), whatever `level` is.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=not _state["configured"],
    )
    kafka_numeric = logging.getLevelName(kafka_level.upper())
    if not isinstance(kafka_numeric, int):
        raise ValueError(f"unknown log level {kafka_level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    _route_stdlib(numeric, kafka_numeric, shared, renderer)
    _route_uncaught()
    _state["configured"] = True


def _route_stdlib(
    level: int, kafka_level: int, shared: list[structlog.types.Processor], renderer: structlog.types.Processor
) -> None:
    """The standard library's records rendered by structlog, on stderr, one handler on the root logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_socpipe", False)]:
        root.removeHandler(old)
    handler._socpipe = True  # type: ignore[attr-defined]  # ours, replaced on reconfiguration
    root.addHandler(handler)
    # Libraries (kafka-python, elasticsearch) are quiet unless something is wrong.
    root.setLevel(max(level, logging.WARNING))
    # kafka-python warns about transient metadata gaps (a topic just created) and logs every failed
    # connection attempt during an outage at ERROR: socpipe.outage logs the outage once instead.
    logging.getLogger("kafka").setLevel(kafka_level)
    # elastic_transport logs each failed attempt of a request: the outage is reported once, as above.
    logging.getLogger("elastic_transport").setLevel(max(level, logging.ERROR))


def _route_uncaught() -> None:
    crash = structlog.get_logger("socpipe.crash")

    def main_hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        crash.critical("uncaught exception: the process stops", exc_info=(kind, value, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        crash.critical(
            "uncaught exception in a thread",
            thread=args.thread.name if args.thread else None,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = main_hook
    threading.excepthook = thread_hook


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
