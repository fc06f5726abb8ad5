"""`socpipe evidence export | verify | settle`: what auditors run.

`export` writes one tenant's evidence records (by period and control) and a manifest beside the file
(`<file>.manifest.json`: counts, the file's SHA-256, the chain segment it spans, and an anchor: the
chain head's last record). `verify` re-checks the hash chain of an export or of the live index, and
names the first broken link; with `--anchor MANIFEST` (live chains) it also checks that the chain
still holds each kept manifest's anchored record, naming the first that no longer holds. It exits 1
when anything is broken.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.options import Until, check_from, check_to, tenant_option
from socpipe.settings import Settings, get_settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


@click.group("evidence")
def evidence() -> None:
    """Compliance evidence: export for auditors, verify the hash chain."""


def _check_control(settings: Settings, control: str) -> None:
    """An unknown control is an error (it would export 0 records): name the ones rules/controls.yaml has."""
    from responders.config import load_config

    known = load_config(settings).controls.controls
    families = {c.split(":", 1)[0] for c in known}
    if control in known or control in families or any(c.startswith(control + ".") for c in known):
        return
    raise click.BadParameter(
        f"unknown control {control!r}; known: {', '.join(sorted(families))} or one of "
        f"{', '.join(sorted(known))}",
        param_hint="--control",
    )


def _require_evidence(es: Elasticsearch, settings: Settings, tenant: str) -> None:
    """An unknown tenant (no evidence index) is said in one line, naming the index and the prefix."""
    from socpipe.es import tenant_indices

    index = tenant_indices(settings, tenant).evidence
    if not es.indices.exists(index=index):
        raise click.ClickException(
            f"no evidence for tenant {tenant!r} (no index {index} at {settings.elasticsearch_url}): check "
            f"the tenant id, and SOCPIPE_INDEX_PREFIX ({settings.index_prefix})"
        )


@evidence.command("export")
@tenant_option(required=True, help="The one tenant whose records are exported.")
@click.option(
    "--from",
    "start",
    callback=check_from,
    help="Records that occurred at or after this: a date (2026-01-01, from its midnight) or a time "
    "(2026-01-01T08:00:00Z, exact; UTC if it has no zone).",
)
@click.option(
    "--to",
    "end",
    callback=check_to,
    help="Records that occurred up to this: a date is included whole (2026-12-31: the last day too), "
    "a time is exact and included.",
)
@click.option(
    "--control", default=None, help="Only records supporting this control (SOC2:CC7.3) or family (SOC2)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON lines (one record a line) or CSV (one row a record).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write (its folder must exist); the manifest goes to <out>.manifest.json.",
)
def export_cmd(
    tenant: str, start: datetime | None, end: Until | None, control: str | None, fmt: str, out: Path
) -> None:
    """Write one tenant's evidence records and their manifest."""
    from responders.evidence.audit import export, manifest_path
    from socpipe.es import check_elasticsearch, es_client

    if start and end and (start > end.at or (start == end.at and not end.inclusive)):
        raise click.BadParameter("--from is after --to: the period is empty", param_hint="--from/--to")
    if not out.parent.is_dir():
        raise click.BadParameter(f"folder {out.parent} does not exist: create it first", param_hint="--out")
    settings = get_settings()
    if control:
        _check_control(settings, control)
    check_elasticsearch(settings)
    es = es_client(settings)
    try:
        _require_evidence(es, settings, tenant)
        manifest = export(
            es, settings, tenant, out, start=start, end=end.at if end else None,
            end_inclusive=bool(end and end.inclusive), control=control, fmt=fmt,  # type: ignore[arg-type]
        )  # fmt: skip
    finally:
        es.close()
    click.echo(f"{manifest['records']} records of {tenant} -> {out} (manifest {manifest_path(out)})")
    for record_type, count in sorted(manifest["by_record_type"].items()):
        click.echo(f"  {record_type:<18} {count}")


@evidence.command("verify")
@click.argument("export_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@tenant_option(help="Verify this tenant's live chain in Elasticsearch.")
@click.option(
    "--anchor",
    "anchor_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --tenant: an export manifest of that tenant kept since (repeatable); the live chain must "
    "still hold its anchored record exactly, so a rewrite of the whole chain after it is found.",
)
def verify_cmd(export_file: Path | None, tenant: str | None, anchor_files: tuple[Path, ...]) -> None:
    """Re-check an export (EXPORT_FILE, with its manifest beside it) or a tenant's live chain."""
    from responders.evidence.anchors import AnchorError, check_anchors, load_anchor
    from responders.evidence.audit import verify_live
    from socpipe.es import check_elasticsearch, es_client

    if bool(export_file) == bool(tenant):
        raise click.UsageError("give either an EXPORT_FILE or --tenant")
    if anchor_files and not tenant:
        raise click.UsageError("--anchor checks a live chain: give --tenant")
    try:
        anchors = [load_anchor(path) for path in anchor_files]
    except AnchorError as exc:
        raise click.ClickException(str(exc)) from None
    anchor_break = None
    if export_file:
        result, what = _verify_file(export_file), str(export_file)
    else:
        settings = get_settings()
        check_elasticsearch(settings)
        es = es_client(settings)
        try:
            _require_evidence(es, settings, tenant or "")
            anchor_break, _ = check_anchors(es, settings, tenant or "", anchors)
            result, what = verify_live(es, settings, tenant or ""), f"live chain of {tenant}"
        except AnchorError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            es.close()
    if result.ok:
        click.echo(f"OK: {what}: {result.checked} records, chain intact (last hash {result.last_hash[:16]})")
    else:
        click.echo(
            f"BROKEN: {what}: first break at {result.first_break} "
            f"({result.checked} records before it are sound)"
        )
    if anchor_break is not None:
        click.echo(f"BROKEN: {what}: {anchor_break.problem}")
    elif anchors:
        click.echo(f"OK: {len(anchors)} anchors hold: " + ", ".join(str(a) for a in anchors))
    if not result.ok or anchor_break is not None:
        raise SystemExit(1)


def _verify_file(export_file: Path):  # type: ignore[no-untyped-def]
    """verify_export, with a missing or unreadable manifest told in one line (exit 1)."""
    import orjson

    from responders.evidence.audit import manifest_path, verify_export

    manifest = manifest_path(export_file)
    if not manifest.is_file():
        raise click.ClickException(
            f"{export_file} has no manifest beside it ({manifest}): an export is verified against the "
            "manifest `socpipe evidence export` wrote with it"
        )
    try:
        return verify_export(export_file)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise click.ClickException(
            f"{manifest} is not a socpipe export manifest ({type(exc).__name__}: {exc}); "
            "nothing can be verified against it"
        ) from None


@evidence.command("settle")
@tenant_option(required=True, help="The tenant whose chain to settle.")
def settle_cmd(tenant: str) -> None:
    """Finish the evidence block a crashed responder claimed but did not write, then verify the chain.

    Responders do this themselves on the tenant's next batch; this is for an auditor or operator who
    needs the chain whole now (verify reports such a gap as "tail deleted, or not yet written").
    """
    import uuid

    from responders.evidence.chain import ChainWriter
    from responders.evidence.claims import Claims
    from responders.evidence.verify import verify_live
    from socpipe.es import check_elasticsearch, es_client

    settings = get_settings()
    check_elasticsearch(settings)
    es = es_client(settings)
    try:
        _require_evidence(es, settings, tenant)
        claims = Claims(es, owner=f"cli-settle-{uuid.uuid4().hex[:12]}", timeout_s=settings.claim_timeout_s)
        head = ChainWriter(es, settings, claims.stamp).settled_head(tenant)
        result = verify_live(es, settings, tenant)
    finally:
        es.close()
    click.echo(f"settled: chain of {tenant} has {head.next_sequence} records")
    if not result.ok:
        click.echo(f"BROKEN: first broken link at {result.first_break}")
        raise SystemExit(1)
    click.echo(f"OK: {result.checked} records, chain intact (last hash {result.last_hash[:16]})")
