"""The pipeline benchmark's figure: end-to-end latency and each stage's consumer lag over the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server
import matplotlib.pyplot as plt


def plot(result: dict[str, Any], out: Path) -> None:
    """Two panels sharing the time axis (seconds from the start of sending): latency, then lag."""
    timeline = result["timeline"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, dpi=90)
    points = timeline["latency"]
    top.scatter([p["t"] for p in points], [p["ms"] for p in points], s=6, alpha=0.6, label="per detection")
    for name, style in (("p50", ":"), ("p99", "--")):
        value = result["latency_ms"].get(name)
        if value is not None:
            top.axhline(value, linestyle=style, color="grey", linewidth=1, label=f"{name} {value:.0f} ms")
    top.set_ylabel("receipt -> incident\n+ evidence (ms)")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(
        f"{result['rate']} lines/s for {result['seconds']:.0f} s, {result['workers']} detector workers: "
        f"{'sustained' if result['sustained'] else 'NOT sustained'}",
        fontsize=10,
    )
    lag = timeline["lag"]
    for stage in result["lag_max"]:
        bottom.plot([s["t"] for s in lag], [s.get(stage, 0) for s in lag], label=stage)
    bottom.axvline(result["seconds"], color="grey", linewidth=1, linestyle=":")
    bottom.set_ylabel("consumer lag (records)")
    bottom.set_xlabel("seconds since sending started (dotted: sending stopped)")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
