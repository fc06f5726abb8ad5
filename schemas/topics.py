"""Kafka topic names, in one place so producers and consumers cannot drift apart."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Topics(BaseModel):
    """The pipeline's topics; a deployment may prefix them (several pipelines on one cluster)."""

    model_config = ConfigDict(frozen=True)

    raw: str = "events.raw"
    ecs: str = "events.ecs"
    dlq: str = "events.dlq"
    detections: str = "detections"
    contributions: str = "detectors.contributions"  # the repartition topic: detector -> correlate
    detector_state: str = "detectors.state"  # the correlate stage's changelog (compacted)
    ingest_checkpoints: str = "ingest.checkpoints"
    intel_hunts: str = "intel.hunts"  # compacted: each retro-hunt's checkpoint (detectors/intel/hunt.py)

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        base = cls()
        if not prefix:
            return base
        return cls(**{name: f"{prefix}{value}" for name, value in base.model_dump().items()})
