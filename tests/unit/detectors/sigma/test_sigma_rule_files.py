"""Which files a rule folder yields (loader.rule_files): what os.walk plus os.path.isfile found before
the walk used os.scandir's entry types, on a tree with every kind of entry."""

from __future__ import annotations

import os
from pathlib import Path

from detectors.sigma.loader import rule_files


def walk_reference(top: Path) -> list[Path]:
    """The former implementation: os.walk, hidden entries skipped, sorted as Paths, files only."""
    found: list[str] = []
    for folder, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += (
            os.path.join(folder, n) for n in names if n.endswith((".yml", ".yaml")) and not n.startswith(".")
        )
    return sorted(Path(f) for f in found if os.path.isfile(f))


def test_rule_files_finds_what_os_walk_found(tmp_path: Path) -> None:
    top = tmp_path / "rules"
    for rel in ["a.yml", "b.yaml", "c.txt", ".hidden.yml", "z/x.yml", "z/y/w.yaml", "z-a/k.yml", "z.b/k.yml"]:
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text("title: t\n", encoding="utf-8")
    (top / ".git").mkdir()
    (top / ".git" / "in-hidden.yml").write_text("x", encoding="utf-8")
    (top / "folder.yml").mkdir()  # a folder named like a rule: not a file
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.yml").write_text("x", encoding="utf-8")
    (top / "linked-folder").symlink_to(outside)  # not entered, as os.walk does not
    (top / "linked-file.yml").symlink_to(outside / "o.yml")  # a link to a file: kept
    (top / "broken.yml").symlink_to(tmp_path / "missing.yml")  # a broken link: not a file

    found = rule_files([top])
    assert found == walk_reference(top)
    assert {p.relative_to(top).as_posix() for p in found} == {
        "a.yml",
        "b.yaml",
        "linked-file.yml",
        "z/x.yml",
        "z/y/w.yaml",
        "z-a/k.yml",
        "z.b/k.yml",
    }
