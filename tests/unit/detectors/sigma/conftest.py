"""Helpers for the Sigma engine unit tests: one rule (or a few) from YAML text, and events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sigma_helpers import rule_yaml

from detectors.sigma import Engine, TenantConfig, load_rules


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
