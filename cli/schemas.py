"""`socpipe schemas export DIR`: the JSON Schemas of every message socpipe reads or writes."""

from __future__ import annotations

from pathlib import Path

import click

from schemas.export import export_json_schemas


@click.group("schemas")
def schemas_group() -> None:
    """Message and document schemas."""


@schemas_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write one JSON Schema file per model into DIRECTORY."""
    for path in export_json_schemas(directory):
        click.echo(str(path))
