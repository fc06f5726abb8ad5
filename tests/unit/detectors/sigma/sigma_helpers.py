"""Rule YAML and events for the Sigma engine unit tests (a module of its own, not conftest: `from
conftest import` resolves to whichever conftest was imported first when other folders are collected)."""

from __future__ import annotations

import textwrap
import uuid
from typing import Any

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
