"""`socpipe scan`: detection offline over files, with the same Detector the workers run.

Each input line is a JSON object: a flat event, or a nested Windows event
(`{"Event": {"System": ..., "EventData": ...}}`) or a Winlogbeat / Elastic Agent one
(`{"winlog": ...}`), flattened first. A file that holds one JSON array is read as a list of such
objects; `.gz` files are decompressed. Lines that are not JSON objects (or malformed Windows events)
are counted and reported on stderr with their position, never dropped silently.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click
import orjson

from cli.options import check_tenant
from schemas.detection import Detection
from socpipe.heap import settle
from socpipe.paths import rules_dir

# Offline events belong to no client: this is the tenant they carry unless --tenant names one.
SCAN_TENANT = "scan"


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_events(path: Path, bad: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, flat event) for every event in the file; problems appended to `bad`.

    Windows event JSON is flattened as the windows parser does; any other nested object (ECS as
    Elasticsearch stores it and Elastic Agent ships it) to dotted names as the json parser does, so
    a file scans to what the pipeline would detect in it.
    """
    from ingest.parsers import ParseError
    from ingest.parsers.base import flatten
    from ingest.parsers.windows import flatten_windows_event

    with _open(path) as fh:
        head = fh.read(1024)
        fh.seek(0)
        if head.lstrip().startswith(b"["):
            try:
                records = orjson.loads(fh.read())
            except orjson.JSONDecodeError as exc:
                bad.append(f"{path}: not valid JSON: {exc}")
                return
            items: Iterator[tuple[int, Any]] = enumerate(records, 1)
        else:
            items = ((n, line) for n, line in enumerate(fh, 1) if line.strip())
        for n, item in items:
            try:
                record = orjson.loads(item) if isinstance(item, bytes) else item
            except orjson.JSONDecodeError as exc:
                bad.append(f"{path}:{n}: not JSON: {exc}")
                continue
            if not isinstance(record, dict):
                bad.append(f"{path}:{n}: not a JSON object")
                continue
            if "Event" in record or "System" in record or "winlog" in record:
                try:
                    record = flatten_windows_event(record)
                except ParseError as exc:
                    bad.append(f"{path}:{n}: {exc}")
                    continue
            elif dict in map(type, record.values()):
                record = flatten(record)
            yield n, record


@click.command("scan")
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Sigma rule file or folder (repeatable). Default: the shipped rules/sigma.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "jsonl"]),
    default="table",
    show_default=True,
    help="table for people; jsonl prints one Detection document per line.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse to run when any rule fails to load (exit 2), and exit 1 when any record was bad.",
)
@click.option(
    "--parser",
    default=None,
    help="Read raw logs with this ingest parser (syslog, access_log, auditd, journald, ...; "
    "see `socpipe parse`). Default: JSON events, flat or Windows event JSON.",
)
@click.option(
    "--timezone",
    default=None,
    help="With --parser: IANA zone of times the log writes without an offset (RFC 3164 syslog).",
)
@click.option(
    "--tenant",
    default=SCAN_TENANT,
    show_default=True,
    callback=check_tenant,
    help="Tenant the events belong to: its tuning (filters, placeholders, heuristic thresholds) applies, "
    "and every detection carries it.",
)
@click.option(
    "--tenant-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML with global and per-tenant filters and placeholder values.",
)
@click.option(
    "--intel",
    "intel_feeds",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Threat-intelligence feed to match too (repeatable): a STIX 2.1 bundle, MISP event JSON, or a "
    "CSV or text list of indicators.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal)."
)
@click.option(
    "--heuristics/--no-heuristics",
    default=True,
    show_default=True,
    help="Also run the anomaly heuristics of rules/heuristics.yaml (events at their own time).",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def scan(
    rule_paths: tuple[Path, ...],
    fmt: str,
    strict: bool,
    parser: str | None,
    timezone: str | None,
    tenant: str,
    tenant_config: Path | None,
    intel_feeds: tuple[Path, ...],
    progress: bool | None,
    heuristics: bool,
    paths: tuple[Path, ...],
) -> None:
    """Run the Sigma rules (correlations included) and the heuristics over event files: JSON lines or
    Windows event JSON (flat or nested), or raw logs of any ingest parser with --parser.

    With --format jsonl every line is one Detection, the same document the detector and correlate
    workers publish (Sigma, correlation and heuristic alike), its event_ref naming the file and line.
    With --strict, a rule that fails to load or a record that cannot be read makes the exit status 1.
    """
    from detectors.detector import FileRef, OfflineDetector
    from detectors.heuristics.fields import event_time

    read = _reader(parser, tenant, timezone)
    engine = _engine(rule_paths, tenant_config, strict)
    detector = OfflineDetector.build(engine, _heuristics() if heuristics else None, _intel(intel_feeds))
    # The loaded rules are long-lived: the scan's collections skip them (socpipe/heap.py); rules read
    # from the cache leave next to no garbage, so the start-up pays no full collection for them.
    settle(collect=not engine.ruleset.from_cache)
    files = [
        f for p in paths for f in (sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p])
    ]
    show = sys.stderr.isatty() if progress is None else progress
    bad: list[str] = []
    rows: list[Detection] = []
    n_events = n_detections = 0

    def emit(found: list[Detection]) -> None:
        nonlocal n_detections
        n_detections += len(found)
        if fmt == "jsonl":
            for det in found:
                click.echo(det.model_dump_json())
        else:
            rows.extend(found)

    with _Progress(show, sum(f.stat().st_size for f in files)) as advance:
        for f in files:
            name = str(f)
            for line, event in read(f, bad):
                n_events += 1
                ref = FileRef(name, line)
                if found := detector.detect(event, tenant=tenant, time=event_time(event), ref=ref):
                    emit(found)
            advance(f.stat().st_size)
    emit(detector.finish())
    if fmt == "table":
        _table(rows)
    for message in bad[:50]:
        click.echo(f"bad input: {message}", err=True)
    click.echo(
        f"{n_events} events, {n_detections} detections, "
        f"{len(bad)} bad records, {sum(engine.errors.values())} rule errors"
        + (
            f", {detector.untimed} events without a time (Sigma rules only; dated when scanned)"
            if detector.untimed
            else ""
        ),
        err=True,
    )
    if strict and bad:
        raise SystemExit(1)


Reader = Callable[[Path, list[str]], Iterator[tuple[int, dict[str, Any]]]]


def _reader(parser: str | None, tenant: str, timezone: str | None) -> Reader:
    """How the files are read: JSON events, or raw lines through an ingest parser (checked now)."""
    if parser is None:
        if timezone is not None:
            raise click.UsageError("--timezone goes with --parser")
        return read_events
    from ingest.parsers import ParseError, UnknownParserError, default_registry
    from ingest.parsers.base import time_zone
    from ingest.read import read_log

    try:
        default_registry().get(parser)
        if timezone is not None:
            time_zone(timezone)
    except (UnknownParserError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None

    def parsed(path: Path, bad: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
        for line, result in read_log(path, parser, tenant=tenant, timezone=timezone):
            if isinstance(result, ParseError):
                bad.append(f"{path}:{line}: {result.reason}")
            else:
                yield line, result.flat()

    return parsed


def _engine(rule_paths: tuple[Path, ...], tenant_config: Path | None, strict: bool) -> Any:
    """The Sigma engine on the given rules; with strict, any rule that fails stops the scan (exit 2)."""
    from detectors.sigma import Engine, RuleLoadError, TenantConfig, load_rules

    try:
        ruleset = load_rules(list(rule_paths) or [rules_dir() / "sigma"], strict=strict)
        config = TenantConfig.load(tenant_config) if tenant_config else None
        engine = Engine(ruleset, tenant_config=config, strict=strict)
    except RuleLoadError as exc:
        click.echo(exc.report.summary(), err=True)
        for problem in exc.report.failed:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(2) from exc
    click.echo(ruleset.report.summary(), err=True)
    for problem in ruleset.report.failed:
        click.echo(f"  {problem}", err=True)
    return engine


def _intel(paths: tuple[Path, ...]) -> Any:
    """The indicators of the given feeds, or None; a feed that does not load stops the scan (exit 2)."""
    if not paths:
        return None
    from detectors.detector import FixedIntel
    from detectors.intel.feeds import FeedError, load_feeds

    try:
        return FixedIntel(load_feeds(list(paths)))
    except FeedError as exc:
        raise click.UsageError(str(exc)) from None


def _heuristics() -> Any:
    """rules/heuristics.yaml; a bad file stops the scan with every problem."""
    from detectors.heuristics import HeuristicConfigError, load_config

    try:
        return load_config()
    except HeuristicConfigError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from exc


class _Progress:
    """A rich progress bar over bytes read, or nothing."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total = show, total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.show:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "scanning", BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=Console(stderr=True)
        )
        self.bar.__enter__()
        task = self.bar.add_task("scan", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _table(rows: list[Detection]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("level", "kind", "rule", "author", "event", "matched")
    for r in rows:
        matched = ", ".join(f"{k}={str(v)[:60]}" for k, v in r.matched.items())
        ref = r.event_ref
        table.add_row(
            r.rule.level.value,
            r.kind.value,
            r.rule.title,
            r.rule.author or "",
            f"{Path(ref.path or '').name}:{ref.line}",
            matched,
        )
    Console().print(table)
