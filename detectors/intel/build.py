"""The detector's intel from the settings: rules/intel.yaml (or settings.intel_file), or nothing."""

from __future__ import annotations

from pathlib import Path

from detectors.intel.config import load_config
from detectors.intel.copies import SavedCopies, copies_dir
from detectors.intel.feeds import FeedSet
from detectors.intel.reload import IntelHolder
from socpipe.paths import rules_dir
from socpipe.settings import Settings


def intel_path(settings: Settings) -> Path | None:
    """The configured file; rules/intel.yaml when present; else None (no threat intelligence)."""
    if settings.intel_file is not None:
        return settings.intel_file
    default = rules_dir() / "intel.yaml"
    return default if default.is_file() else None


def build_intel(settings: Settings) -> IntelHolder | None:
    """The holder of the configured feeds, loaded now: a bad configuration or a feed file that cannot
    be read raises ValueError (FeedError) here, at start, naming it; a URL feed whose server is away
    starts from its saved copy, or without it until it loads."""
    path = intel_path(settings)
    if path is None:
        return None
    return IntelHolder(FeedSet(load_config(path), SavedCopies(copies_dir(settings))))
