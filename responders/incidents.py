"""Incidents in Elasticsearch: grouping a tenant's detections, idempotently and safely concurrent.

One pass over a batch of a tenant's detections:

1. read (real-time `mget`, one request) the detection documents already written, and the group heads
   (current incident and generation of each group): a detection seen before keeps the incident it was
   assigned to (a replay re-applies it there, which changes nothing);
2. read the incidents those name (a second `mget`);
3. decide in memory (grouping.py), in event-time order;
4. write, in this order, each write refusing to overwrite what it did not read: group heads
   (`op_type=create` or `if_seq_no`/`if_primary_term`), detection documents (`op_type=create`: the
   assignment), incidents (`op_type=create` for new ones, `if_seq_no` for updates); a restricted
   detection (restricted.py) goes to the detections index as its client view, and whole to the
   provider-only restricted index (`op_type=create`, for every restricted detection of the batch, so a
   replay fills in a copy a crash left out).

If any write meets a version conflict (another worker, or the CLI, wrote first) the pass is run again
from the start: everything already written is found in step 1 or 2, so a second pass is exact.
A crash between the writes is the same case, one replay later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from responders import grouping
from responders.config import Grouping, ResponderConfig
from responders.evidence.documents import detection_doc, incident_doc, incident_from_doc
from responders.restricted import client_view, is_restricted
from schemas.common import utc_now
from schemas.detection import Detection
from schemas.incident import Incident
from socpipe.es import bulk, mget_docs, tenant_indices
from socpipe.logging import get_logger
from socpipe.settings import Settings

log = get_logger(__name__)

MAX_PASSES = 8


class ConcurrentUpdateError(RuntimeError):
    """Another writer kept winning: the batch is not committed and will be processed again."""


class _ConflictError(Exception):
    pass


@dataclass
class _Versioned:
    """A document as read: its body, and the version to make the next write conditional on."""

    source: dict[str, Any] | None
    seq_no: int | None = None
    primary_term: int | None = None
    dirty: bool = False

    def condition(self) -> dict[str, Any]:
        if self.seq_no is None:
            return {}
        return {"if_seq_no": self.seq_no, "if_primary_term": self.primary_term}


@dataclass
class Applied:
    incidents: list[Incident]
    assignments: dict[str, str] = field(default_factory=dict)
    new_detections: list[str] = field(default_factory=list)


def _mget(es: Elasticsearch, wanted: dict[str, list[str]]) -> dict[str, dict[str, _Versioned]]:
    """Real-time reads of several indices' documents in one request: {index: {id: as read}}."""
    out: dict[str, dict[str, _Versioned]] = {index: {} for index in wanted}
    docs = [{"_index": index, "_id": i} for index, ids in wanted.items() for i in dict.fromkeys(ids)]
    if not docs:
        return out
    for d in mget_docs(es, docs=docs):
        found = d.get("found")
        out[d["_index"]][d["_id"]] = (
            _Versioned(d["_source"], d["_seq_no"], d["_primary_term"]) if found else _Versioned(None)
        )
    return out


def _join_group(
    tenant: str,
    key: str,
    head: _Versioned,
    detection: Detection,
    *,
    plan: Grouping,
    models: dict[str, Incident],
) -> str:
    """The incident a new detection joins: the group's current one if it fits, else the group's next
    generation; the group head is pointed at it (and marked dirty) when it moves."""
    if head.source is None:
        generation = 0
    else:
        generation = int(head.source["generation"])
        current = models.get(head.source["incident_id"])
        if current is not None and not grouping.fits(current, detection, plan):
            generation += 1
    incident_id = grouping.incident_id(tenant, key, generation)
    if head.source is None or head.source["incident_id"] != incident_id:
        head.source = {
            "kind": "group_head",
            "group_key": key,
            "generation": generation,
            "incident_id": incident_id,
        }
        head.dirty = True
    return incident_id


class IncidentStore:
    def __init__(self, es: Elasticsearch, settings: Settings, config: ResponderConfig) -> None:
        self.es = es
        self.settings = settings
        self.config = config

    def apply(self, tenant: str, detections: list[Detection]) -> Applied:
        for attempt in range(MAX_PASSES):
            try:
                return self._pass(tenant, detections)
            except _ConflictError as conflict:
                log.info(
                    "version conflict, grouping the batch again",
                    tenant=tenant,
                    attempt=attempt,
                    what=str(conflict),
                )
        raise ConcurrentUpdateError(f"tenant {tenant}: {MAX_PASSES} passes met version conflicts")

    def _pass(self, tenant: str, detections: list[Detection]) -> Applied:
        idx_det = tenant_indices(self.settings, tenant).detections
        idx_inc = tenant_indices(self.settings, tenant).incidents
        idx_state = tenant_indices(self.settings, tenant).state
        tenant_cfg = self.config.tenant(tenant)
        now = utc_now()

        plans = {d.id: self.config.grouping.resolve(tenant, d.rule.id) for d in detections}
        keys = {d.id: grouping.group_key(d, plans[d.id]) for d in detections}
        assigned, new, heads, incidents = self._read(tenant, detections, keys)
        models: dict[str, Incident] = {
            i: incident_from_doc(v.source) for i, v in incidents.items() if v.source is not None
        }

        def get_or_open(incident_id: str, detection: Detection) -> Incident:
            if incident_id not in models:
                models[incident_id] = grouping.open_incident(
                    detection, keys[detection.id], incident_id, tenant_cfg, now
                )
                incidents.setdefault(incident_id, _Versioned(None))
            return models[incident_id]

        # Detections assigned before (a replay): make sure their incident holds them.
        for detection in detections:
            if detection.id in assigned:
                incident_id = assigned[detection.id]
                incident = get_or_open(incident_id, detection)
                if grouping.add_detection(incident, detection, now):
                    incidents[incident_id].dirty = True
        # New detections: join the group's current incident, or open the group's next one.
        for detection in new:
            key = keys[detection.id]
            head = heads[grouping.group_head_id(tenant, key)]
            incident_id = _join_group(tenant, key, head, detection, plan=plans[detection.id], models=models)
            incident = get_or_open(incident_id, detection)
            if grouping.add_detection(incident, detection, now):
                incidents[incident_id].dirty = True
            assigned[detection.id] = incident_id

        self._write_heads(idx_state, heads)
        self._write_detections(idx_det, new, assigned, tenant_cfg.sensitive_fields)
        self._write_restricted(tenant_indices(self.settings, tenant).restricted, detections, assigned)
        self._write_incidents(idx_inc, incidents, models)
        touched = list(dict.fromkeys(assigned[d.id] for d in detections))
        return Applied([models[i] for i in touched], dict(assigned), [d.id for d in new])

    def _write_detections(
        self, index: str, new: list[Detection], assigned: dict[str, str], sensitive: list[str]
    ) -> None:
        """The new detections' assignments (`op_type=create`): one bulk request. The index is the client's
        too, so the events they carry are redacted by the tenant's policy."""
        ops: list[dict[str, Any]] = []
        for detection_id, detection in {d.id: d for d in new}.items():
            ops += [
                {"create": {"_index": index, "_id": detection_id}},
                detection_doc(client_view(detection), assigned[detection_id], sensitive=sensitive),
            ]
        self._check(bulk(self.es, ops), "detection already assigned")

    def _write_restricted(self, index: str, detections: list[Detection], assigned: dict[str, str]) -> None:
        """The whole of each restricted detection, for the provider only; a copy already there stays."""
        ops: list[dict[str, Any]] = []
        for detection_id, detection in {d.id: d for d in detections if is_restricted(d)}.items():
            ops += [
                {"create": {"_index": index, "_id": detection_id}},
                detection_doc(detection, assigned[detection_id]),
            ]
        bulk(self.es, ops)  # a 409 is a copy written before (a replay): nothing to do

    def _write_incidents(
        self, index: str, incidents: dict[str, _Versioned], models: dict[str, Incident]
    ) -> None:
        """The changed incidents, a version on: new ones created, others conditional on the version read."""
        ops: list[dict[str, Any]] = []
        for incident_id, versioned in incidents.items():
            if not versioned.dirty or incident_id not in models:
                continue
            incident = models[incident_id]
            incident.version += 1
            action = "create" if versioned.source is None else "index"
            if action == "create":
                incident.initial_severity = incident.severity  # what the first notice announces
            ops += [
                {action: {"_index": index, "_id": incident_id, **versioned.condition()}},
                incident_doc(incident),
            ]
        self._check(bulk(self.es, ops), "incident changed meanwhile")

    def _read(
        self, tenant: str, detections: list[Detection], keys: dict[str, str]
    ) -> tuple[dict[str, str], list[Detection], dict[str, _Versioned], dict[str, _Versioned]]:
        """Assignments already written, the new detections (event-time order), their group heads and the
        incidents all of these name: two real-time reads. The detection documents and every group head
        the batch may need come in one `mget` (a head is read for nothing only when all its detections
        are assigned already, as in a replay)."""
        idx_det = tenant_indices(self.settings, tenant).detections
        idx_state = tenant_indices(self.settings, tenant).state
        idx_inc = tenant_indices(self.settings, tenant).incidents
        head_ids = {d.id: grouping.group_head_id(tenant, keys[d.id]) for d in detections}
        read = _mget(self.es, {idx_det: [d.id for d in detections], idx_state: list(head_ids.values())})
        assigned = {d: v.source["incident"]["id"] for d, v in read[idx_det].items() if v.source}
        new = sorted((d for d in detections if d.id not in assigned), key=lambda d: (d.event_time, d.id))
        heads = {head_ids[d.id]: read[idx_state][head_ids[d.id]] for d in new}
        wanted = [*assigned.values(), *(h.source["incident_id"] for h in heads.values() if h.source)]
        return assigned, new, heads, _mget(self.es, {idx_inc: wanted})[idx_inc]

    def _write_heads(self, index: str, heads: dict[str, _Versioned]) -> None:
        ops: list[dict[str, Any]] = []
        for head_id, head in heads.items():
            if head.dirty:
                action = "index" if head.seq_no is not None else "create"
                ops += [{action: {"_index": index, "_id": head_id, **head.condition()}}, head.source or {}]
        self._check(bulk(self.es, ops), "group head moved")

    @staticmethod
    def _check(results: list[dict[str, Any]], what: str) -> None:
        if any(r.get("status") == 409 for r in results):
            raise _ConflictError(what)
