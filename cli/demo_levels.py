"""The demo's service-level breach: one promise short enough to be broken while the demo runs.

The sample tenants' real promises (rules/tenants.yaml) are minutes and hours, so a demo that lasts
seconds would only ever show 100 %. The demo runs on a copy of that file in which ACME was promised that
an analyst acknowledges a critical incident within `DEMO_ACKNOWLEDGE` seconds. Nobody acknowledges in the
demo, so the clock really breaches: the SLA watch records the breach as evidence and escalates it once to
the provider's on-call, and ACME's report lists it, exactly as it would happen with real targets. The
copy is written beside the demo's other state and named in the commands the demo prints, so `socpipe sla
status` afterwards sees the same promise.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from responders.sla.watch import CheckResult
from responders.worker import Responders
from schemas.common import utc_now
from schemas.sla import ClockState

DEMO_TENANT, DEMO_SEVERITY, DEMO_ACKNOWLEDGE = "acme", "critical", 3
WAIT_AT_MOST_S = 5.0  # the longest the demo waits for a deadline still ahead (keeps the demo short)


def write_demo_tenants(source: Path, out: Path) -> Path:
    """`source` with the demo's short promise for ACME's critical incidents, written to `out`."""
    raw: dict[str, Any] = yaml.safe_load(source.read_text())
    tenant = next(t for t in raw["tenants"] if t["id"] == DEMO_TENANT)
    targets = tenant.setdefault("service_levels", {}).setdefault("targets", {})
    default = raw.get("service_levels", {}).get("targets", {}).get(DEMO_SEVERITY, {})
    targets[DEMO_SEVERITY] = {**default, **targets.get(DEMO_SEVERITY, {})} | {
        "acknowledge_within": f"{DEMO_ACKNOWLEDGE}s"
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Written by `socpipe demo` from {source}: the same tenants, but {DEMO_TENANT} was promised that\n"
        f"# a {DEMO_SEVERITY} incident is acknowledged within {DEMO_ACKNOWLEDGE} s, so the demo shows a "
        "breach (cli/demo_levels.py).\n"
    )
    out.write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return out


def check_service_levels(responders: Responders) -> list[CheckResult]:
    """A round of the SLA watch (what `socpipe sla check` runs), and another after waiting out a deadline
    that falls within `WAIT_AT_MOST_S`; every round's results. A breach is recorded and escalated once,
    however often this runs (the watch's own exactly-once)."""
    watch = responders.sla_watch()
    results = watch.run_once()
    now = utc_now()
    soon = now + timedelta(seconds=WAIT_AT_MOST_S)
    due = [
        c.deadline
        for r in results
        for c in r.clocks
        if c.state == ClockState.running and c.deadline and c.deadline <= soon
    ]
    if not due:
        return results
    time.sleep(max(0.0, (max(due) - now).total_seconds()) + 0.1)
    return results + watch.run_once()
