"""Helpers for the Sigma engine unit tests: one rule (or a few) from YAML text, and events."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from detectors.sigma import Engine, TenantConfig, load_rules

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


@pytest.fixture
def make_engine(tmp_path: Path) -> Callable[..., Engine]:
    """make_engine(*rule_texts, config=None) -> Engine over those rules (written to tmp files)."""

    def make(*texts: str, config: TenantConfig | None = None, strict: bool = True) -> Engine:
        d = tmp_path / f"rules-{uuid.uuid4().hex[:6]}"
        d.mkdir()
        for i, text in enumerate(texts):
            (d / f"r{i}.yml").write_text(text, encoding="utf-8")
        return Engine(load_rules([d], strict=strict), tenant_config=config)

    return make


@pytest.fixture
def matches(make_engine: Callable[..., Engine]) -> Callable[..., bool]:
    """matches(detection_yaml, event, **rule_kwargs) -> did the one rule fire on the event."""

    def check(detection: str, event: dict[str, Any], **kw: Any) -> bool:
        engine = make_engine(rule_yaml(detection, **kw))
        return bool(engine.match(event))

    return check
