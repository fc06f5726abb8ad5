"""Stand-ins shared by the ingest unit tests (the real Kafka path has its integration tests)."""

from __future__ import annotations

from socpipe.bus import Outbound


class RecordingPublisher:
    """Stands in for socpipe.bus.Publisher: keeps what is sent, acknowledges all on flush."""

    def __init__(self) -> None:
        self.sent: list[Outbound] = []

    def send(self, message: Outbound) -> None:
        self.sent.append(message)

    def flush(self, timeout_s: float = 60.0) -> int:
        return len(self.sent)
