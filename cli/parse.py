"""`socpipe parse --parser P [FILE]`: the normalised ECS events of a raw log, as JSON lines.

The detection engineer's way to see what a rule will see: each line of FILE (standard input when
absent or `-`) goes through the named parser exactly as the normalise stage would run it, and the
event is printed as one JSON object (`--flat` prints the flat view the Sigma engine and heuristics
match on). Lines the parser refuses are reported on stderr with their line number and reason; the
exit status is 1 when any line was refused, 2 on bad usage (unknown parser, unreadable file).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from cli.options import check_tenant


@click.command("parse")
@click.option("--parser", "parser", required=True, help="Registered parser name (syslog, access_log, ...).")
@click.option(
    "--tenant",
    default="local",
    show_default=True,
    callback=check_tenant,
    help="Tenant written into the events.",
)
@click.option("--timezone", default=None, help="IANA zone of times the log writes without an offset.")
@click.option("--flat", is_flag=True, help="Print the flat view rules match on, not the ECS document.")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def parse(parser: str, tenant: str, timezone: str | None, flat: bool, file: Path | None) -> None:
    """Print the ECS events a raw log file (or standard input) normalises to, one JSON object per line."""
    from ingest.parsers import ParseError, UnknownParserError
    from ingest.parsers.base import time_zone
    from ingest.read import read_log

    if timezone is not None:
        try:
            time_zone(timezone)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    path = None if file is None or str(file) == "-" else file
    refused = 0
    out = sys.stdout.buffer
    try:
        for number, result in read_log(path, parser, tenant=tenant, timezone=timezone):
            if isinstance(result, ParseError):
                refused += 1
                click.echo(f"{path or 'stdin'}:{number}: {result.reason}", err=True)
                continue
            doc = result.flat() if flat else result.model_dump(mode="json", by_alias=True, exclude_none=True)
            out.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
    except BrokenPipeError:  # the reader (head, less) stopped reading: not an error of ours
        sys.stderr.close()
        sys.exit(0)
    except UnknownParserError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    out.flush()
    if refused:
        click.echo(f"{refused} line(s) refused by parser {parser!r}", err=True)
        sys.exit(1)
