"""A local SMTP server that stores what it receives as .eml files: the demo's client inbox.

aiosmtpd is the maintained SMTP server of the Python ecosystem (the successor of smtpd); the
tests use the same class to check real deliveries.
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

# RFC 5321 allows 1000 octets a line. aiosmtpd sizes its stream buffer to exactly that, and under
# some TCP segmentations refuses messages whose lines are all short ("500 Line too long"); a roomier
# buffer avoids that, and the tests check the line lengths of what arrives themselves.
RFC5321_MAX_LINE = 1000


class _SMTP(SMTP):
    line_length_limit = 16 * 1024


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _SMTP(self.handler, **self.SMTP_kwargs)


class _SaveToFolder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        count = len(list(self.directory.glob("*.eml")))
        name = f"{count + 1:04d}-{envelope.rcpt_tos[0].replace('@', '_at_')}.eml"
        (self.directory / name).write_bytes(envelope.content)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """`with Mailbox(dir) as box:` an SMTP server on 127.0.0.1:box.port saving into box.directory."""

    host = "127.0.0.1"

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or _free_port()
        self._controller = _Controller(_SaveToFolder(directory), hostname=self.host, port=self.port)

    def __enter__(self) -> Mailbox:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self._controller.stop()

    def messages(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))
