"""Syslog receivers: UDP, TCP and TLS (RFC 6587 octet counting or newline framing), on asyncio.

The tenant is the listener's (configuration), never the message's; the host hint is the peer's
address, so one sender's messages stay in order on one partition. Messages go out unparsed through
a NetworkSink: a TCP connection stops being read while the sink's budget is spent (the sender's
writes block), a UDP datagram that finds the budget spent is dropped and counted (UDP cannot wait),
in `ReceiverStats.dropped` and in the `ingest_refused{reason="udp_drop"}` metric.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingest.shippers.network_sink import BudgetExceededError, Message, NetworkSink
from ingest.shippers.records import DEAD_LETTER_HEAD_BYTES, Origin, source_timezone
from ingest.shippers.tls import server_context
from socpipe.logging import get_logger

log = get_logger(__name__)

_OCTET_COUNT = re.compile(rb"([1-9][0-9]{0,8}) ")
# Where a stream may pick up again after a bogus count: an octet-counted frame (`LEN SP <PRI>`).
_FRAME_START = re.compile(rb"[1-9][0-9]{0,8} <[0-9]{1,3}>")
_FRAME_START_MAX = 15  # bytes of a frame start that may be cut at the end of a read
_WAIT = -1
# An octet count up to this many times the message limit is believed (the frame is skipped by its
# count, as RFC 6587 says); a larger one is taken for garbage and the stream resynchronises instead.
PLAUSIBLE_OVERSIZE = 4


@dataclass(frozen=True, slots=True)
class Frame:
    data: bytes  # the message (its head when too long)
    length: int  # bytes that arrived
    too_long: bool = False
    declared: int | None = None  # the octet count the sender claimed, when it was over the limit


class SyslogFramer:
    """Splits a TCP stream into messages: `LEN SP MSG` (octet counting) or MSG LF, told apart per frame.

    Memory stays bounded: an oversized frame keeps only its head and skips the rest. A count over the
    limit is believed only up to PLAUSIBLE_OVERSIZE times it: a bogus count (99999999) would otherwise
    swallow every message that follows. Past that the frame runs to the next newline or the next
    `LEN SP <PRI>` frame start, whichever comes first, and the dead letter says how much arrived.
    """

    def __init__(self, max_message_bytes: int) -> None:
        self.max = max_message_bytes
        self._buf = b""
        self._skip = 0  # bytes still to discard of an oversized octet-counted frame
        self._skip_to_newline = False  # discarding an oversized newline-framed message
        self._resync = False  # discarding after a bogus octet count, up to the next frame
        self._head = b""
        self._length = 0
        self._declared: int | None = None

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        buf = self._buf + data
        pos = 0
        while pos < len(buf):
            if self._skip or self._skip_to_newline or self._resync:
                after = self._discard(buf, pos, frames)
            else:
                counted = self._octet_counted(buf, pos, frames)
                after = self._newline_framed(buf, pos, frames) if counted is None else counted
            if after == _WAIT:
                break  # an incomplete frame: wait for more
            pos = after
        self._buf = buf[pos:]
        return frames

    def _oversized(self) -> Frame:
        frame = Frame(self._head, self._length, True, self._declared)
        self._head, self._length = b"", 0
        self._declared = None
        return frame

    def _keep(self, chunk: bytes) -> None:
        """Count `chunk` as arrived bytes of the oversized frame; keep it while the head is short."""
        if len(self._head) < DEAD_LETTER_HEAD_BYTES:
            self._head += chunk[: DEAD_LETTER_HEAD_BYTES - len(self._head)]
        self._length += len(chunk)

    def _discard(self, buf: bytes, pos: int, frames: list[Frame]) -> int:
        """Skip the rest of an oversized frame; its head becomes a too-long Frame at its end."""
        if self._skip:
            take = min(self._skip, len(buf) - pos)
            self._keep(buf[pos : pos + take])
            self._skip -= take
            if not self._skip:
                frames.append(self._oversized())
            return pos + take
        if self._resync:
            return self._resynchronise(buf, pos, frames)
        end = buf.find(b"\n", pos)
        if end < 0:
            self._keep(buf[pos:])
            return len(buf)
        self._keep(buf[pos:end])
        frames.append(self._oversized())
        self._skip_to_newline = False
        return end + 1

    def _resynchronise(self, buf: bytes, pos: int, frames: list[Frame]) -> int:
        """After a bogus count: discard up to the next newline (eaten) or frame start (kept)."""
        newline = buf.find(b"\n", pos)
        start = _FRAME_START.search(buf, pos, newline if newline >= 0 else len(buf))
        if start is None and newline < 0:
            keep = max(pos, len(buf) - _FRAME_START_MAX)  # a frame start may be cut at the read's end
            if keep == pos:
                return _WAIT
            self._keep(buf[pos:keep])
            return keep
        end = start.start() if start is not None else newline
        self._keep(buf[pos:end].rstrip(b"\r"))
        frames.append(self._oversized())
        self._resync = False
        return end if start is not None else newline + 1

    def _octet_counted(self, buf: bytes, pos: int, frames: list[Frame]) -> int | None:
        """`LEN SP MSG`: the position after the frame, _WAIT for more bytes, None if not this framing."""
        count = _OCTET_COUNT.match(buf, pos)
        if not count:
            return None
        size, start = int(count.group(1)), count.end()
        if size > self.max:
            self._declared = size
            if size <= self.max * PLAUSIBLE_OVERSIZE:
                self._skip = size
            else:
                self._resync = True
            return start
        if len(buf) - start < size:
            return _WAIT
        frames.append(Frame(buf[start : start + size], size))
        return start + size

    def _newline_framed(self, buf: bytes, pos: int, frames: list[Frame]) -> int:
        if buf[pos : pos + 1].isdigit() and len(buf) - pos < 10 and b" " not in buf[pos:]:
            return _WAIT  # perhaps the start of an octet count
        end = buf.find(b"\n", pos)
        if end < 0:
            if len(buf) - pos > self.max:
                self._keep(buf[pos:])
                self._skip_to_newline = True
                return len(buf)
            return _WAIT
        message = buf[pos:end].rstrip(b"\r")
        if len(message) > self.max:
            frames.append(Frame(message[:DEAD_LETTER_HEAD_BYTES], len(message), True))
        elif message.strip(b"\x00 "):
            frames.append(Frame(message, len(message)))
        return end + 1

    def finish(self) -> list[Frame]:
        """The connection closed: what is left is a last, unterminated message (or a cut frame)."""
        rest, self._buf = self._buf, b""
        if self._skip or self._skip_to_newline or self._resync:
            self._keep(rest.rstrip(b"\r\n"))
            self._skip, self._skip_to_newline, self._resync = 0, False, False
            return [self._oversized()]
        rest = rest.rstrip(b"\r\n")
        return [Frame(rest, len(rest))] if rest.strip(b"\x00 ") else []


@dataclass
class ReceiverStats:
    messages: int = 0
    dropped: int = 0
    connections: int = 0
    ports: list[int] = field(default_factory=list)  # bound ports, in listener order (port 0 picks one)


def _message(origin: Origin, frame: Frame, received: datetime, peer: str) -> Message:
    refusal = None
    if frame.too_long and frame.declared is not None:
        reason = (
            f"octet count {frame.declared} is over the limit; {frame.length} bytes arrived "
            "before the connection closed or the next frame began"
        )
        refusal = (reason, "RecordTooLarge")
    elif frame.too_long:
        refusal = (f"message of {frame.length} bytes exceeds the limit", "RecordTooLarge")
    return Message(origin, frame.data, received, peer=peer, host=peer, refusal=refusal)


@dataclass(frozen=True)
class _Context:
    origin: Origin
    sink: NetworkSink
    stats: ReceiverStats
    max_bytes: int


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, ctx: _Context) -> None:
        self.origin, self.sink, self.stats, self.max = ctx.origin, ctx.sink, ctx.stats, ctx.max_bytes

    def datagram_received(self, data: bytes, addr: tuple[str | bytes | int, ...]) -> None:
        peer = str(addr[0])
        message = data.rstrip(b"\r\n\x00")
        if not message:
            return
        frame = (
            Frame(message[:DEAD_LETTER_HEAD_BYTES], len(message), True)
            if len(message) > self.max
            else Frame(message, len(message))
        )
        try:
            self.sink.try_submit([_message(self.origin, frame, datetime.now(UTC), peer)])
            self.stats.messages += 1
        except BudgetExceededError:
            self.stats.dropped += 1
            self.sink.metrics.refused(self.origin.source, "udp_drop")
            if self.stats.dropped in (1, 10, 100, 1000) or self.stats.dropped % 10_000 == 0:
                log.warning("syslog udp: Kafka is behind, datagrams dropped", dropped=self.stats.dropped)


async def _tcp_connection(ctx: _Context, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    origin, sink, stats, max_bytes = ctx.origin, ctx.sink, ctx.stats, ctx.max_bytes
    peer = str((writer.get_extra_info("peername") or ("?",))[0])
    framer = SyslogFramer(max_bytes)
    stats.connections += 1
    try:
        while True:
            data = await reader.read(64 * 1024)
            frames = framer.feed(data) if data else framer.finish()
            if frames:
                received = datetime.now(UTC)
                # Waits while the budget is spent: this connection is not read, TCP slows the sender.
                await sink.submit_async([_message(origin, f, received, peer) for f in frames])
                stats.messages += len(frames)
            if not data:
                break
    except (ConnectionError, ssl.SSLError) as exc:
        log.info("syslog connection ended", peer=peer, error=str(exc))
    finally:
        writer.close()


@dataclass(frozen=True)
class SyslogListener:
    protocol: str  # "udp", "tcp" or "tls"
    host: str
    port: int
    tenant: str
    parser: str = "syslog"
    tls: ssl.SSLContext | None = None
    timezone: str | None = None  # IANA zone of the senders' RFC 3164 times; None: UTC

    def __post_init__(self) -> None:
        source_timezone(self.timezone, self.parser)

    @property
    def source(self) -> str:
        return f"syslog-{self.protocol}:{self.host}:{self.port}"


async def serve_syslog(
    listeners: list[SyslogListener], sink: NetworkSink, stop: asyncio.Event, *, max_message_bytes: int,
    started: asyncio.Event | None = None,
    stats: ReceiverStats | None = None,
) -> ReceiverStats:  # fmt: skip
    """Run every listener until `stop` is set; `started` is set once all listen (ports in `stats`)."""
    loop = asyncio.get_running_loop()
    stats = stats or ReceiverStats()
    closers = []
    for listener in listeners:
        ctx = _Context(
            Origin(listener.tenant, listener.source, listener.parser, timezone=listener.timezone),
            sink,
            stats,
            max_message_bytes,
        )
        if listener.protocol == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_Udp, ctx), local_addr=(listener.host, listener.port)
            )
            closers.append(transport.close)
            stats.ports.append(transport.get_extra_info("sockname")[1])
        else:
            tls = listener.tls if listener.protocol == "tls" else None
            server = await asyncio.start_server(
                functools.partial(_tcp_connection, ctx), listener.host, listener.port, ssl=tls
            )
            closers.append(server.close)
            stats.ports.append(server.sockets[0].getsockname()[1])
        log.info("syslog listening", source=listener.source, tenant=listener.tenant)
    if started is not None:
        started.set()
    try:
        await sink.wait_until_stopped(stop)
    finally:
        for close in closers:
            close()
    return stats


def tls_context(certfile: str, keyfile: str, client_ca: str | None = None) -> ssl.SSLContext:
    """Server-side TLS (1.2+); with `client_ca`, clients must present a certificate it signed (mutual TLS)."""
    return server_context(certfile, keyfile, client_ca, require_client_cert=True)
