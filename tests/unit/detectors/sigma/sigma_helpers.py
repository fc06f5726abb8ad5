"""Rule YAML and events for the Sigma engine unit tests (a module of its own, not conftest: `from
conftest import` resolves to whichever conftest was imported first when other folders are collected)."""

from __future__ import annotations

import os
import textwrap
import uuid
from types import ModuleType
from typing import Any

import pytest

from detectors.sigma.native import NO_NATIVE_ENV, PREFILTER, compiled

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def proc(**fields: Any) -> dict[str, Any]:
    """A flat Sysmon process-creation event with the given fields."""
    return {"Channel": SYSMON, "EventID": 1, **fields}


def rule_yaml(
    detection: str,
    *,
    logsource: str = "product: windows\n  category: process_creation",
    rule_id: str | None = None,
    extra: str = "",
) -> str:
    return (
        f"title: test rule\nid: {rule_id or uuid.uuid4()}\nstatus: test\nauthor: tester\nlevel: high\n"
        f"tags: [attack.execution, attack.t1059.001]\n"
        f"logsource:\n  {logsource}\ndetection:\n"
        f"{textwrap.indent(textwrap.dedent(detection).strip(), '  ')}\n"
        f"{extra}"
    )


def compiled_module(source: str = PREFILTER) -> ModuleType:
    """The mypyc-compiled copy of an engine module (prefilter.py, matchers.py), which `bash
    scripts/bootstrap.sh` builds (hatch_build.py); the tests of it are skipped only in an install made
    with SOCPIPE_NO_NATIVE=1."""
    native = compiled(source)
    if native is None and os.environ.get(NO_NATIVE_ENV):
        pytest.skip(f"installed with {NO_NATIVE_ENV}: no compiled {source}")
    assert native is not None, f"the compiled {source} is missing or stale: bash scripts/bootstrap.sh"
    return native


def compiled_prefilter() -> ModuleType:
    """The mypyc-compiled prefilter (compiled_module)."""
    return compiled_module(PREFILTER)
