"""`socpipe scan`: the Sigma engine offline over JSON-lines and Windows event JSON files.

Each input line is a JSON object: a flat event, or a nested Windows event
(`{"Event": {"System": ..., "EventData": ...}}`) or a Winlogbeat / Elastic Agent one
(`{"winlog": ...}`), flattened first. A file that holds one JSON array is read as a list of such
objects; `.gz` files are decompressed. Lines that are not JSON objects (or malformed Windows events)
are counted and reported on stderr with their position, never dropped silently.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import orjson

from socpipe.paths import rules_dir


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_events(path: Path, bad: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, flat event) for every event in the file; problems appended to `bad`."""
    from ingest.parsers import ParseError
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
            yield n, record


def _detection(match: Any, path: Path, line: int) -> dict[str, Any]:
    rule = match.rule
    return {
        "id": match.id,
        "rule": {
            "id": rule.id,
            "title": rule.title,
            "level": rule.level,
            "author": rule.author,
            "status": rule.status,
            "logsource": rule.logsource,
            "path": rule.path,
        },
        "tags": list(rule.tags),
        "attack": list(rule.attack),
        "matched": match.matched,
        "tenant": match.tenant,
        "event_ref": {"path": str(path), "line": line},
        "pipeline": match.pipeline,
    }


@click.command("scan")
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Sigma rule file or folder (repeatable). Default: the shipped rules/sigma.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
@click.option("--strict", is_flag=True, help="Refuse to run when any rule fails to load.")
@click.option("--tenant", default=None, help="Tenant whose tuning (filters, placeholders) applies.")
@click.option(
    "--tenant-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML with global and per-tenant filters and placeholder values.",
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
    tenant: str | None,
    tenant_config: Path | None,
    progress: bool | None,
    heuristics: bool,
    paths: tuple[Path, ...],
) -> None:
    """Run the Sigma rules (correlations included) over event files (JSON lines or Windows event JSON,
    flat or nested)."""
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
    offline = _heuristics(tenant) if heuristics else None
    from detectors.correlation_offline import ScanCorrelations

    correlations = ScanCorrelations(ruleset, tenant)
    files = [
        f for p in paths for f in (sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p])
    ]
    show = sys.stderr.isatty() if progress is None else progress
    bad: list[str] = []
    rows: list[dict[str, Any]] = []
    n_events = n_detections = 0

    def emit(found: list[dict[str, Any]]) -> None:
        nonlocal n_detections
        for det in found:
            n_detections += 1
            if fmt == "jsonl":
                click.echo(orjson.dumps(det, default=str).decode())
            else:
                rows.append(det)

    with _Progress(show, sum(f.stat().st_size for f in files)) as advance:
        for f in files:
            for line, event in read_events(f, bad):
                n_events += 1
                matches = engine.match(event, tenant, event_ref=f"{f}:{line}")
                # A rule a correlation references without `generate: true` only feeds the correlation.
                found = [_detection(m, f, line) for m in matches if m.rule.output]
                if correlations:
                    found += correlations.feed(matches, event, f, line)
                if offline is not None:
                    found += offline.feed(event, f, line)
                emit(found)
            advance(f.stat().st_size)
    emit(correlations.finish())
    if fmt == "table":
        _table(rows)
    for message in bad[:50]:
        click.echo(f"bad input: {message}", err=True)
    click.echo(
        f"{n_events} events, {n_detections} detections, "
        f"{len(bad)} bad records, {sum(engine.errors.values())} rule errors"
        + (f", {offline.untimed} events without a time (not seen by the heuristics)" if offline else "")
        + (
            f", {correlations.untimed} matched events without a time (not seen by the correlations)"
            if correlations.untimed
            else ""
        ),
        err=True,
    )


def _heuristics(tenant: str | None) -> Any:
    """The heuristics engine on rules/heuristics.yaml; a bad file stops the scan with every problem."""
    from detectors.heuristics import HeuristicConfigError
    from detectors.heuristics.offline import ScanHeuristics

    try:
        return ScanHeuristics(tenant)
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


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("level", "rule", "author", "event", "matched")
    for r in rows:
        matched = ", ".join(f"{k}={str(v)[:60]}" for k, v in r["matched"].items())
        ref = r["event_ref"]
        table.add_row(
            r["rule"]["level"] or "",
            r["rule"]["title"],
            r["rule"]["author"] or "",
            f"{Path(ref['path']).name}:{ref['line']}",
            matched,
        )
    Console().print(table)
