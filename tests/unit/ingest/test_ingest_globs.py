"""Glob tail discovery: patterns expanded to files known by identity, and what a rescan tells apart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.ingest import ingest
from ingest.shippers.globs import absolute_pattern, compare, expand, find_renamed, identity_of, is_pattern


@pytest.mark.parametrize(
    ("text", "expected"),
    [("/var/log/app/*.log", True), ("app?.log", True), ("app[12].log", True), ("/var/log/app.log", False),
     ("app.log.1", False)],
)  # fmt: skip
def test_wildcards_make_a_pattern(text: str, expected: bool) -> None:
    """`*`, `?` and `[...]` make a pattern; a plain path is not one (it keeps the single-file tail)."""
    assert is_pattern(text) is expected


def test_a_relative_pattern_is_made_absolute_with_its_wildcards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative patterns are anchored at the working directory; `~` is expanded; wildcards stay."""
    monkeypatch.chdir("/tmp")
    monkeypatch.setenv("HOME", "/home/op")
    assert absolute_pattern("logs/../app/*.log") == "/tmp/app/*.log"
    assert absolute_pattern("~/x/[ab].log") == "/home/op/x/[ab].log"


def test_expand_returns_regular_files_once_each_by_identity(tmp_path: Path) -> None:
    """Matched regular files in sorted order; directories, .gz copies and missing literal paths are
    left out; a hard link, a symbolic link or a second matching pattern does not make a second file."""
    for name in ("b.log", "a.log", "c.log.2.gz"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "d.log").mkdir()
    os.link(tmp_path / "a.log", tmp_path / "hard.log")
    (tmp_path / "soft.log").symlink_to(tmp_path / "b.log")
    found = expand([f"{tmp_path}/*.log", f"{tmp_path}/a.log", f"{tmp_path}/*.gz", f"{tmp_path}/none.log"])
    assert sorted(p.name for p in found.values()) == ["a.log", "b.log"]
    assert found[identity_of(tmp_path / "hard.log")] == tmp_path / "a.log"


def test_a_literal_path_names_itself(tmp_path: Path) -> None:
    """Several plain paths go through the same expansion: each names its own file when it exists."""
    (tmp_path / "app.log").write_text("x\n")
    assert list(expand([str(tmp_path / "app.log")]).values()) == [tmp_path / "app.log"]


def test_a_file_created_later_is_new_on_the_next_scan(tmp_path: Path) -> None:
    """The rescan finds a file that appeared since the last one, and only that one."""
    pattern = f"{tmp_path}/*.log"
    (tmp_path / "a.log").write_text("a\n")
    tracked = expand([pattern])
    (tmp_path / "b.log").write_text("b\n")
    scan = compare(tracked, expand([pattern]))
    assert (list(scan.new.values()), scan.gone, scan.moved) == ([tmp_path / "b.log"], [], {})


def test_a_rotation_still_matched_is_a_rename_not_a_new_file(tmp_path: Path) -> None:
    """`app.log` -> `app.log.1` under `app.log*`: the rotated file is the same identity, moved; only the
    re-created `app.log` is new, so the rotated one is never read twice."""
    pattern = f"{tmp_path}/app.log*"
    (tmp_path / "app.log").write_text("old\n")
    tracked = expand([pattern])
    (old,) = tracked
    os.rename(tmp_path / "app.log", tmp_path / "app.log.1")
    (tmp_path / "app.log").write_text("new\n")
    scan = compare(tracked, expand([pattern]))
    assert scan.moved == {old: tmp_path / "app.log.1"}
    assert list(scan.new.values()) == [tmp_path / "app.log"] and scan.gone == []


def test_a_rotation_out_of_the_pattern_or_a_deletion_is_gone(tmp_path: Path) -> None:
    """Under `*.log`, `app.log.1` no longer matches and a deleted file is not there: both are gone (the
    tail finishes them from their open handles); the new `app.log` is new."""
    pattern = f"{tmp_path}/*.log"
    (tmp_path / "app.log").write_text("old\n")
    (tmp_path / "other.log").write_text("x\n")
    tracked = expand([pattern])
    app, other = identity_of(tmp_path / "app.log"), identity_of(tmp_path / "other.log")
    keep = (tmp_path / "other.log").open("rb")  # held open, as the tail does: its inode is not reused
    try:
        os.rename(tmp_path / "app.log", tmp_path / "app.log.1")
        (tmp_path / "other.log").unlink()
        (tmp_path / "app.log").write_text("new\n")
        scan = compare(tracked, expand([pattern]))
    finally:
        keep.close()
    assert sorted(scan.gone) == sorted([app, other])
    assert list(scan.new.values()) == [tmp_path / "app.log"] and scan.moved == {}


def test_a_file_rotated_away_is_found_among_its_siblings(tmp_path: Path) -> None:
    """At start, a checkpointed file no longer matched is looked for by identity beside its old name."""
    (tmp_path / "app.log").write_text("old\n")
    old = identity_of(tmp_path / "app.log")
    os.rename(tmp_path / "app.log", tmp_path / "app.log.1")
    (tmp_path / "app.log").write_text("new\n")
    assert find_renamed(tmp_path / "app.log", old) == tmp_path / "app.log.1"
    assert find_renamed(tmp_path / "app.log", (old[0], old[1] + 10**9)) is None


def test_cli_refuses_a_pattern_matching_nothing_without_follow(tmp_path: Path) -> None:
    """A one-shot run over a pattern that matches no file exits 2 before reaching Kafka."""
    result = CliRunner().invoke(ingest, ["file", f"{tmp_path}/*.log", "--tenant", "acme"])
    assert result.exit_code == 2 and "no file matches" in result.output


def test_cli_refuses_a_directory(tmp_path: Path) -> None:
    """A directory is not a file to tail: the error says to give a glob of its files."""
    result = CliRunner().invoke(ingest, ["file", str(tmp_path), "--tenant", "acme"])
    assert result.exit_code == 2 and "give a glob" in result.output
