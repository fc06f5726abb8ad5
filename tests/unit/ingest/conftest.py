"""Shared helpers for the ingest unit tests: raw records as a shipper would produce them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.raw import RawRecord

RECEIVED = datetime(2026, 11, 30, 8, 0, 0, tzinfo=UTC)


def raw_record(data: str, parser: str = "json", **fields: Any) -> RawRecord:
    base: dict[str, Any] = {
        "tenant": "acme",
        "source": "file:/var/log/test.log",
        "parser": parser,
        "received_at": RECEIVED,
        "path": "/var/log/test.log",
        "offset": 0,
        "line": 1,
    }
    base.update(fields)
    return RawRecord(data=data, **base)


@pytest.fixture
def make_raw() -> Callable[..., RawRecord]:
    return raw_record
