"""`socpipe evidence export | verify | settle`: what auditors run.

`export` writes one tenant's evidence records (by period and control) and a manifest beside the file
(`<file>.manifest.json`: counts, the file's SHA-256, the chain segment it spans, and an anchor: the
chain head's last record). `verify` re-checks the hash chain of an export or of the live index, and
names the first broken link; with `--anchor MANIFEST` (live chains) it also checks that the chain
still holds each kept manifest's anchored record, naming the first that no longer holds. It exits 1
when anything is broken.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from socpipe.settings import get_settings


def _when(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 date or time, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group("evidence")
def evidence() -> None:
    """Compliance evidence: export for auditors, verify the hash chain."""


@evidence.command("export")
@click.option("--tenant", required=True, help="The one tenant whose records are exported.")
@click.option(
    "--from", "start", callback=_when, help="Records that occurred at or after (ISO 8601, UTC if no zone)."
)
@click.option("--to", "end", callback=_when, help="Records that occurred before (ISO 8601).")
@click.option(
    "--control", default=None, help="Only records supporting this control (SOC2:CC7.3) or family (SOC2)."
)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write; the manifest goes to <out>.manifest.json.",
)
def export_cmd(
    tenant: str, start: datetime | None, end: datetime | None, control: str | None, fmt: str, out: Path
) -> None:
    """Write one tenant's evidence records and their manifest."""
    from responders.evidence.audit import export, manifest_path
    from socpipe.es import es_client

    settings = get_settings()
    es = es_client(settings)
    try:
        manifest = export(es, settings, tenant, out, start=start, end=end, control=control, fmt=fmt)  # type: ignore[arg-type]
    finally:
        es.close()
    click.echo(f"{manifest['records']} records of {tenant} -> {out} (manifest {manifest_path(out)})")
    for record_type, count in sorted(manifest["by_record_type"].items()):
        click.echo(f"  {record_type:<18} {count}")


@evidence.command("verify")
@click.argument("export_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", default=None, help="Verify this tenant's live chain in Elasticsearch.")
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
    from responders.evidence.audit import verify_export, verify_live
    from socpipe.es import es_client

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
        result, what = verify_export(export_file), str(export_file)
    else:
        settings = get_settings()
        es = es_client(settings)
        try:
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


@evidence.command("settle")
@click.option("--tenant", required=True, help="The tenant whose chain to settle.")
def settle_cmd(tenant: str) -> None:
    """Finish the evidence block a crashed responder claimed but did not write, then verify the chain.

    Responders do this themselves on the tenant's next batch; this is for an auditor or operator who
    needs the chain whole now (verify reports such a gap as "tail deleted, or not yet written").
    """
    import uuid

    from responders.evidence.chain import ChainWriter
    from responders.evidence.claims import Claims
    from responders.evidence.verify import verify_live
    from socpipe.es import es_client

    settings = get_settings()
    es = es_client(settings)
    try:
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
