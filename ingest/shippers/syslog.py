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
from socpipe.logging import get_logger

log = get_logger(__name__)

_OCTET_COUNT = re.compile(rb"([1-9][0-9]{0,8}) ")
_WAIT = -1


@dataclass(frozen=True, slots=True)
class Frame:
    data: bytes  # the message (its head when too long)
    length: int
    too_long: bool = False


class SyslogFramer:
    """Splits a TCP stream into messages: `LEN SP MSG` (octet counting) or MSG LF, told apart per frame.

    Memory stays bounded: an oversized frame keeps only its head and skips the rest.
    """

    def __init__(self, max_message_bytes: int) -> None:
        self.max = max_message_bytes
        self._buf = b""
        self._skip = 0  # bytes still to discard of an oversized octet-counted frame
        self._skip_to_newline = False  # discarding an oversized newline-framed message
        self._head = b""
        self._length = 0

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        buf = self._buf + data
        pos = 0
        while pos < len(buf):
            if self._skip or self._skip_to_newline:
                pos = self._discard(buf, pos, frames)
                continue
            after = self._octet_counted(buf, pos, frames)
            if after is None:
                after = self._newline_framed(buf, pos, frames)
            if after == _WAIT:
                break  # an incomplete frame: wait for more
            pos = after
        self._buf = buf[pos:]
        return frames

    def _discard(self, buf: bytes, pos: int, frames: list[Frame]) -> int:
        """Skip the rest of an oversized frame; its head becomes a too-long Frame at its end."""
        if self._skip:
            take = min(self._skip, len(buf) - pos)
            self._skip -= take
            if not self._skip:
                frames.append(Frame(self._head, self._length, True))
            return pos + take
        end = buf.find(b"\n", pos)
        if end < 0:
            self._length += len(buf) - pos
            return len(buf)
        self._length += end - pos
        frames.append(Frame(self._head, self._length, True))
        self._skip_to_newline = False
        return end + 1

    def _octet_counted(self, buf: bytes, pos: int, frames: list[Frame]) -> int | None:
        """`LEN SP MSG`: the position after the frame, _WAIT for more bytes, None if not this framing."""
        count = _OCTET_COUNT.match(buf, pos)
        if not count:
            return None
        size, start = int(count.group(1)), count.end()
        if size > self.max:
            head = buf[start : start + min(size, DEAD_LETTER_HEAD_BYTES)]
            self._head, self._length, self._skip = head, size, size
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
                self._head, self._length = buf[pos : pos + DEAD_LETTER_HEAD_BYTES], len(buf) - pos
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
        if self._skip or self._skip_to_newline:
            return [Frame(self._head, self._length, True)]
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
    if frame.too_long:
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
    """Server-side TLS; with `client_ca`, clients must present a certificate it signed (mutual TLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
