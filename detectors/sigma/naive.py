"""The reference evaluator: every rule tried on every event, no index, no prefilter.

Used by the benchmark and the tests to check that routing and prefiltering never lose a match:
a rule applies to an event when one of its routes equals the event's route (or covers it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.sigma.loader import RuleSet
from detectors.sigma.pipeline import ANY_WINDOWS, DATASET, NON_WINDOWS, module_key


def naive_match(ruleset: RuleSet, event: Mapping[str, Any]) -> list[str]:
    """Ids of the rules that match the event (no tenant tuning, global filters ignored)."""
    key = ruleset.pipeline.route_key(event)
    channel, eid = key
    dataset = channel.startswith(DATASET)
    windows = channel != "" and not dataset
    out: list[str] = []
    for rule in ruleset.rules:
        applies = False
        for ch, rid in rule.routes:
            if (ch, rid) == NON_WINDOWS:
                applies = not windows
            elif (ch, rid) == ANY_WINDOWS:
                applies = windows
            elif ch.startswith(DATASET):
                applies = key == NON_WINDOWS or ch == channel or (ch, rid) == module_key(key)
            else:
                applies = ch == channel and (rid is None or rid == eid)
            if applies:
                break
        if applies and rule.fn(event):
            out.append(rule.info.id)
    return out
