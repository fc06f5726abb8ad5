"""Helpers for the Sigma engine unit tests: one rule (or a few) from YAML text, and events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sigma_helpers import compiled_module, rule_yaml

from detectors.sigma import Engine, TenantConfig, load_rules, matchers
from detectors.sigma.cache import RuleCache
from detectors.sigma.native import MATCHERS, PURE_ENV


@pytest.fixture
def make_engine(tmp_path: Path) -> Callable[..., Engine]:
    """make_engine(*rule_texts, config=None) -> Engine over those rules (written to tmp files).

    The rules are loaded twice through a fresh rule cache and the engine is built from the second,
    warm load: every engine test thereby checks that the cached form behaves like the parsed one.
    """

    def make(*texts: str, config: TenantConfig | None = None, strict: bool = True) -> Engine:
        d = tmp_path / f"rules-{uuid.uuid4().hex[:6]}"
        d.mkdir()
        for i, text in enumerate(texts):
            (d / f"r{i}.yml").write_text(text, encoding="utf-8")
        store = RuleCache(tmp_path / f"cache-{d.name}")
        load_rules([d], strict=strict, cache=store)
        warm = load_rules([d], strict=strict, cache=store)
        assert warm.from_cache
        return Engine(warm, tenant_config=config)

    return make


@pytest.fixture
def matches(make_engine: Callable[..., Engine]) -> Callable[..., bool]:
    """matches(detection_yaml, event, **rule_kwargs) -> did the one rule fire on the event."""

    def check(detection: str, event: dict[str, Any], **kw: Any) -> bool:
        engine = make_engine(rule_yaml(detection, **kw))
        return bool(engine.match(event))

    return check


@pytest.fixture(params=["pure", "compiled"])
def matchers_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The matchers module the rules of a test are built with: matchers.py as Python
    (SOCPIPE_PURE_PYTHON), or its mypyc-compiled copy (which the install must have built). Test
    modules of the matchers' behaviour use it for every test (`pytestmark`)."""
    if request.param == "pure":
        monkeypatch.setenv(PURE_ENV, "1")
        return matchers
    monkeypatch.delenv(PURE_ENV, raising=False)
    return compiled_module(MATCHERS)
