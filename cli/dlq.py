"""`socpipe dlq inspect | replay`: look at the dead letters, and re-drive them after a fix."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import Any, TypeVar

import click

from cli.options import tenant_option
from socpipe.settings import get_settings

_filters = [
    tenant_option(help="Only this tenant's letters."),
    click.option("--stage", default=None, help="Only letters from this stage (ingest, normalise ...)."),
    click.option("--parser", "parser_name", default=None, help="Only letters of records for this parser."),
    click.option(
        "--error-type", default=None, help="Only this error type (UnicodeDecodeError, ParseError ...)."
    ),
    click.option("--limit", type=click.IntRange(1), default=None, help="At most this many letters."),
]


F = TypeVar("F", bound=Callable[..., Any])


def _with_filters(command: F) -> F:
    for option in reversed(_filters):
        command = option(command)
    return command


@click.group("dlq")
def dlq() -> None:
    """The dead-letter topic (events.dlq): what could not be ingested or processed, and why."""


@dlq.command("inspect")
@_with_filters
@click.option("--json", "as_json", is_flag=True, help="One JSON dead letter per line (original in base64).")
@click.option("--include-replayed", is_flag=True, help="Also letters already replayed (marked `replayed`).")
def inspect(
    *, tenant: str | None, stage: str | None, parser_name: str | None, error_type: str | None,
    limit: int | None, as_json: bool, include_replayed: bool,
) -> None:  # fmt: skip
    """List dead letters not yet replayed: where each came from, why it was refused, and the start of
    the original."""
    from ingest.dlq import LetterFilter, preview, read_letters
    from socpipe.bus import KafkaBus

    bus = KafkaBus(get_settings()).check()
    where = LetterFilter(tenant=tenant, stage=stage, parser=parser_name, error_type=error_type)
    count = 0
    for item in read_letters(bus, where, limit, include_replayed=include_replayed):
        count += 1
        letter = item.letter
        if as_json:
            click.echo(letter.model_dump_json())
            continue
        pos = letter.position.model_dump(exclude_none=True)
        if letter.timezone is not None:
            pos["timezone"] = letter.timezone
        where_text = " ".join(f"{k}={v}" for k, v in pos.items())
        click.echo(
            f"[{item.partition}:{item.offset}]{' replayed' if item.replayed else ''} "
            f"{letter.failed_at:%Y-%m-%d %H:%M:%S} tenant={letter.tenant} "
            f"stage={letter.stage} parser={letter.parser} {letter.error_type}\n"
            f"    reason: {letter.reason}\n    at: {where_text or '-'}\n    original: {preview(letter)}"
        )
    click.echo(f"{count} dead letters", err=True)


@dlq.command("replay")
@_with_filters
@click.option("--as-parser", default=None, help="Re-drive under this parser instead of the recorded one.")
@click.option(
    "--encoding", default="utf-8", show_default=True, help="Decode ingest letters' bytes with this."
)
@click.option("--dry-run", is_flag=True, help="Say what would be replayed; send nothing.")
def replay(
    *, tenant: str | None, stage: str | None, parser_name: str | None, error_type: str | None,
    limit: int | None, as_parser: str | None, encoding: str, dry_run: bool,
) -> None:  # fmt: skip
    """Send the selected dead letters back to the input of the stage that refused them (events.raw for
    ingest and normalise, events.ecs for the detector, detections for the responder), once: a replayed
    letter is marked and left out of later replays. Failed client notices are resent by `socpipe notice
    retry --include-failed` instead."""
    from ingest.dlq import LetterFilter, read_letters
    from ingest.dlq import replay as replay_letters
    from ingest.parsers import default_registry
    from socpipe.bus import KafkaBus

    if as_parser is not None and as_parser not in default_registry():
        known = ", ".join(default_registry().names())
        raise click.BadParameter(
            f"unknown parser {as_parser!r}; registered: {known}", param_hint="--as-parser"
        )
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise click.BadParameter(
            f"unknown encoding {encoding!r} (utf-8, latin-1 ...)", param_hint="--encoding"
        ) from None
    bus = KafkaBus(get_settings()).check()
    where = LetterFilter(tenant=tenant, stage=stage, parser=parser_name, error_type=error_type)
    report = replay_letters(
        bus, read_letters(bus, where, limit), parser=as_parser, encoding=encoding, dry_run=dry_run
    )
    for item, why in report.skipped:
        click.echo(f"skipped [{item.partition}:{item.offset}] {item.letter.error_type}: {why}", err=True)
    verb = "would replay" if dry_run else "replayed"
    click.echo(f"{verb} {report.replayed} dead letters, skipped {len(report.skipped)}")
