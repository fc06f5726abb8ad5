"""The stateful stage (`socpipe correlate run`): contributions in, correlation and heuristic detections out.

It consumes the repartition topic that the stateless detectors write (detectors/worker.py), in its own
consumer group. Contributions are keyed by (tenant, component, key), so each partition carries all that
the state of its keys needs, and a tenant's state spreads over partitions (and so workers) by key. The
state of each partition lives in a StateStore (detectors/state.py): per tenant, changelogged to a
compacted topic with every batch and restored when a partition is assigned, so a restarted or
rebalanced worker carries on where the last one stopped. Rules reload as in the detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog
from pydantic import ValidationError

from detectors.detector import apply
from detectors.sigma.engine import Engine
from detectors.state import StateStore
from detectors.worker import detection_message
from schemas.contribution import Contribution
from schemas.topics import Topics
from socpipe.bus import Inbound
from socpipe.heap import settle
from socpipe.logging import get_logger
from socpipe.worker import StageOutput, dead_letter

log = get_logger(__name__)
_RECORD_CONTEXT = ("topic", "partition", "offset", "tenant")


class RuleSource(Protocol):
    def take(self) -> Engine | None: ...


class CorrelateStage:
    name = "correlate"

    def __init__(self, store: StateStore, topics: Topics, rules: RuleSource | None = None) -> None:
        self.store = store
        self.topics = topics
        self.rules = rules

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        if self.rules is not None and self.rules.take() is not None:
            # The reloader moved every partition's windows onto the new rules: the replaced rules freed,
            # the new ones frozen (socpipe/heap.py).
            settle()
        out = StageOutput()
        try:
            for record in batch:
                structlog.contextvars.bind_contextvars(
                    topic=record.topic, partition=record.partition, offset=record.offset, tenant=None
                )
                # Every record, dead letters too: a skipped offset looks like a gap and reloads the state.
                partition = self.store.state_for(record.topic, record.partition, record.offset)
                try:
                    contribution = Contribution.model_validate_json(record.value)
                except ValidationError as exc:
                    out.dead_letters.append(dead_letter(record, self.name, exc))
                    continue
                tenant = contribution.tenant
                structlog.contextvars.bind_contextvars(tenant=tenant)
                if partition.covers(tenant, record.offset, contribution.origin):
                    continue  # fed before a crash: here, or by a detector that published it again
                for detection in apply(partition.components, contribution):
                    log.info("detection", rule=detection.rule.id, kind=detection.kind, detection=detection.id)
                    out.messages.append(detection_message(detection, self.topics))
                partition.fed(tenant, record.offset, contribution.origin)
        finally:
            structlog.contextvars.unbind_contextvars(*_RECORD_CONTEXT)
        out.messages.extend(self.store.snapshots())
        return out
