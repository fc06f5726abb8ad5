"""Reading an anchor from an export manifest: the new `anchor` block, an older manifest's chain head."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from responders.evidence.anchors import AnchorError, load_anchor


def _manifest(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "x.jsonl.manifest.json"
    path.write_bytes(orjson.dumps({"tenant": "acme", "exported_at": "2026-11-30T08:00:00+00:00", **fields}))
    return path


def test_the_anchor_block_is_read_and_named_by_its_file(tmp_path: Path) -> None:
    """tenant, sequence, hash and time come from `anchor`; the anchor is named by the manifest's path."""
    path = _manifest(tmp_path, anchor={"tenant": "acme", "sequence": 41, "hash": "ab" * 32, "at": "T"})
    anchor = load_anchor(path)
    assert (anchor.tenant, anchor.sequence, anchor.hash, anchor.at) == ("acme", 41, "ab" * 32, "T")
    assert str(path) in str(anchor) and "sequence 41" in str(anchor)


def test_a_manifest_from_before_anchors_is_anchored_by_its_chain_head(tmp_path: Path) -> None:
    """Its chain head counts next_sequence records: the anchor is the last one, at export time."""
    path = _manifest(tmp_path, chain_head={"kind": "chain_head", "next_sequence": 10, "last_hash": "cd" * 32})
    anchor = load_anchor(path)
    assert (anchor.sequence, anchor.hash, anchor.at) == (9, "cd" * 32, "2026-11-30T08:00:00+00:00")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"chain_head": None}, "carries no anchor"),
        ({"anchor": {"tenant": "other", "sequence": 1, "hash": "x"}}, "names tenant 'other'"),
    ],
)
def test_unusable_manifests_are_refused_with_the_reason(
    tmp_path: Path, fields: dict[str, object], message: str
) -> None:
    """An empty chain's manifest has no anchor; an anchor naming another tenant than its manifest is
    refused; so is a file that is no manifest at all."""
    with pytest.raises(AnchorError, match=message):
        load_anchor(_manifest(tmp_path, **fields))
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(AnchorError, match="not a socpipe export manifest"):
        load_anchor(other)
