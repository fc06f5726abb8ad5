"""Where socpipe finds the files it ships and the shared test corpus.

Rules and samples live at the top of the repository; an installed wheel carries copies under
`socpipe/_bundled_*`. The corpus is third-party data kept outside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def _shipped(name: str) -> Path:
    in_repo = REPO_DIR / name
    return in_repo if in_repo.is_dir() else PACKAGE_DIR / f"_bundled_{name}"


def rules_dir() -> Path:
    """The rules folder that ships with socpipe (Sigma rules, pipelines, heuristics, control map)."""
    return _shipped("rules")


def samples_dir() -> Path:
    """Sample logs used by `socpipe demo` and the end-to-end tests."""
    return _shipped("samples")


def corpus_dir() -> Path | None:
    """The shared test corpus: $SOCPIPE_CORPUS, else ../shared/corpus beside the repository."""
    env = os.environ.get("SOCPIPE_CORPUS")
    candidates = [Path(env)] if env else [REPO_DIR.parent / "shared" / "corpus"]
    for candidate in candidates:
        if (candidate / "sigma").is_dir():
            return candidate
    return None


def cache_home() -> Path:
    """socpipe's folder in the user's cache ($XDG_CACHE_HOME/socpipe, else ~/.cache/socpipe): the
    rule cache, the saved intel feeds and the dev servers' jars live below it."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "socpipe"
