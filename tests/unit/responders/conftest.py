"""Fixtures of the responders' unit tests: a detection builder and the shipped configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from responders.config import ResponderConfig, load_config
from schemas.detection import Detection, Entity, EventRef, RuleRef

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def detection(
    n: int,
    *,
    tenant: str = "acme",
    rule: str = "rule-1",
    level: str = "high",
    host: str | None = "ws-1",
    user: str | None = "alice",
    source_ip: str | None = None,
    minutes: float | None = None,
    tags: tuple[str, ...] = ("attack.t1059.001",),
) -> Detection:
    return Detection(
        id=f"det-{tenant}-{n}",
        tenant=tenant,
        rule=RuleRef(id=rule, title=f"Rule {rule}", level=level, tags=list(tags)),
        event_time=T0 + timedelta(minutes=n if minutes is None else minutes),
        entity=Entity(host=host, user=user, source_ip=source_ip),
        event_ref=EventRef(event_id=f"evt-{n}"),
    )


@pytest.fixture
def make_detection() -> Callable[..., Detection]:
    return detection


@pytest.fixture(scope="session")
def shipped_config() -> ResponderConfig:
    return load_config()
