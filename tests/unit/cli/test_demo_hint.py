"""The demo's triage hint works when pasted into a fresh shell: it carries the settings it needs."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from cli.demo import _triage_hint
from cli.demo_levels import write_demo_tenants
from responders.config import load_config, tenants_path
from schemas.common import Severity
from socpipe.settings import load_settings


def test_the_triage_hint_carries_the_demo_index_prefix_and_a_non_default_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fresh shell has no SOCPIPE_INDEX_PREFIX (and, after `socpipe dev up` on other ports, no
    ELASTICSEARCH_URL): the hint sets both on its command line, so `socpipe incident list` finds the
    demo's incidents as printed."""
    for name in [n for n in os.environ if n.startswith("SOCPIPE_") or n == "ELASTICSEARCH_URL"]:
        monkeypatch.delenv(name)
    demo = load_settings(index_prefix="socpipe-demo", elasticsearch_url="http://127.0.0.1:19200")
    assert _triage_hint(demo) == (
        "SOCPIPE_INDEX_PREFIX=socpipe-demo ELASTICSEARCH_URL=http://127.0.0.1:19200 socpipe incident list"
    )
    on_default = load_settings(index_prefix="socpipe-demo")
    assert _triage_hint(on_default) == "SOCPIPE_INDEX_PREFIX=socpipe-demo socpipe incident list"


def test_the_hints_carry_the_demo_tenants_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The demo runs on its own copy of the tenants file (a short promise that breaches): the pasted
    `socpipe sla status` must read the same promises, so the hint names the file."""
    for name in [n for n in os.environ if n.startswith("SOCPIPE_") or n == "ELASTICSEARCH_URL"]:
        monkeypatch.delenv(name)
    tenants = write_demo_tenants(tenants_path(None), tmp_path / "tenants.yaml")
    demo = load_settings(index_prefix="socpipe-demo", tenants_file=tenants)
    assert _triage_hint(demo) == (
        f"SOCPIPE_INDEX_PREFIX=socpipe-demo SOCPIPE_TENANTS_FILE={tenants} socpipe incident list"
    )
    config = load_config(demo)
    assert config.levels("acme").targets[Severity.critical].acknowledge_within == timedelta(seconds=3)
    assert config.levels("acme").targets[Severity.critical].resolve_within == timedelta(hours=4)
    assert config.levels("globex") == load_config(load_settings()).levels("globex")
