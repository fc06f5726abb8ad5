"""The responder stage over several tenants at once, against real Elasticsearch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from elasticsearch import Elasticsearch
from responder_helpers import count, detection, inbound
from structlog.testing import LogCapture

from responders.evidence.verify import verify_live
from responders.worker import Responders
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


@pytest.fixture
def captured() -> Iterator[LogCapture]:
    """Log entries as the worker's would be: with the context variables merged in."""
    saved = structlog.get_config()
    capture = LogCapture()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        yield capture
    finally:
        structlog.configure(**saved)


def test_tenants_processed_at_once_keep_their_own_and_the_callers_log_context(
    responders: Responders, es: Elasticsearch, rsettings: Settings, captured: LogCapture
) -> None:
    """Red, blue and green in one batch are handled in threads: each tenant's writes are its own, every
    chain verifies, and each "responded" line carries its tenant and the context the worker loop bound."""
    batch = [
        detection(i, tenant, host=f"ws-{i % 2}") for i in range(6) for tenant in ("red", "blue", "green")
    ]
    with structlog.contextvars.bound_contextvars(stage="responder", topic="detections"):
        responders.stage().process(inbound(batch))
    for tenant in ("red", "blue", "green"):
        assert count(es, rsettings, "detections", tenant) == 6
        assert count(es, rsettings, "incidents", tenant) == 2
        assert verify_live(es, rsettings, tenant).ok
    responded = [e for e in captured.entries if e["event"] == "responded"]
    assert sorted(e["tenant"] for e in responded) == ["blue", "green", "red"]
    assert all(e["stage"] == "responder" and e["topic"] == "detections" for e in responded)
