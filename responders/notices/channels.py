"""Notice channels, one registry keyed by the name tenants write in `routes[].channel`.

A channel kind owns everything about its routes: how its sender is built, which destinations it takes,
and which secret it needs (a variable named by the route's `secret_env`). The responder configuration
checks routes and secrets through it (responders/config.py), so adding a channel is one edit here.

A channel sends one message and returns a delivery receipt (what the server answered), or raises
TransientDeliveryError (worth retrying: timeouts, refused connections, SMTP 4xx, HTTP 408/429/5xx) or
PermanentDeliveryError (retrying cannot help: SMTP 5xx, HTTP 4xx, a missing secret).
"""

from __future__ import annotations

import hashlib
import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from typing import Any, Protocol

import httpx
import orjson

from responders.notices import signing
from schemas.tenant import NoticeRoute
from socpipe.registry import Registry
from socpipe.settings import Settings


class TransientDeliveryError(Exception):
    pass


class PermanentDeliveryError(Exception):
    pass


@dataclass
class Message:
    notice_id: str
    tenant: str
    destination: str
    subject: str
    body: str
    payload: dict[str, Any] = field(default_factory=dict)
    secret: str | None = None


class Channel(Protocol):
    def send(self, message: Message) -> str: ...


@dataclass(frozen=True)
class ChannelKind:
    """A channel: its sender, the destinations it takes, and whether its routes need a secret."""

    name: str
    build: Callable[[Settings], Channel]
    destination_problem: Callable[[str], str | None]  # why a destination is not one, or None
    needs_secret: bool = False
    secret_hint: str = ""

    def route_problems(self, route: NoticeRoute) -> list[str]:
        """What is wrong with a route of this channel, checked when the configuration loads."""
        problems = [p for p in [self.destination_problem(route.destination)] if p]
        if self.needs_secret and not route.secret_env:
            problems.append(f"a {self.name} needs secret_env (the variable with {self.secret_hint})")
        return problems

    def missing_secret(self, route: NoticeRoute) -> str | None:
        """The variable this route's secret should be in, when it is unset (checked at start)."""
        if self.needs_secret and route.secret_env and not os.environ.get(route.secret_env):
            return route.secret_env
        return None

    def secret(self, route: NoticeRoute) -> str | None:
        """The route's secret from its variable; None for channels without one (or unset: see above)."""
        return os.environ.get(route.secret_env) if self.needs_secret and route.secret_env else None


CHANNELS: Registry[ChannelKind] = Registry("notice channel")


def register(kind: ChannelKind) -> ChannelKind:
    return CHANNELS.add(kind.name, kind)


def build_channels(settings: Settings) -> dict[str, Channel]:
    return {name: kind.build(settings) for name, kind in CHANNELS.items()}


def _email_address(destination: str) -> str | None:
    return None if "@" in destination else f"{destination!r} is not an email address"


def _http_url(destination: str) -> str | None:
    return (
        None
        if destination.startswith(("https://", "http://"))
        else "a webhook destination must be an http(s) URL"
    )


class EmailChannel:
    """SMTP to the provider's relay; Message-ID is the notice id, so a resend is recognisably the same."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: Message) -> str:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = message.destination
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{message.notice_id}@socpipe>"
        mail["X-Socpipe-Tenant"] = message.tenant
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.notice_timeout_s) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username and s.smtp_password:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.ehlo_or_helo_if_needed()
                self._check(*smtp.mail(s.smtp_from))
                self._check(*smtp.rcpt(message.destination))
                # CRLF line ends (RFC 5321): smtplib sends bytes as they are, and a relay reads a message
                # of bare LFs as one long line (aiosmtpd: "500 Line too long" once it passes 1000 bytes).
                code, reply = smtp.data(mail.as_bytes(policy=SMTP_POLICY))
                self._check(code, reply)
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            self._check(exc.smtp_code, error if isinstance(error, bytes) else str(error).encode())
            raise TransientDeliveryError(f"SMTP {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from exc
        return f"smtp {code} {reply.decode(errors='replace')}"

    @staticmethod
    def _check(code: int, reply: bytes) -> None:
        text = f"SMTP {code} {reply.decode(errors='replace')}"
        if 400 <= code < 500:
            raise TransientDeliveryError(text)
        if code >= 500:
            raise PermanentDeliveryError(text)


class WebhookChannel:
    """An HTTP POST of JSON, signed as Standard Webhooks describes; `webhook-id` is the notice id."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.notice_timeout_s

    def send(self, message: Message) -> str:
        if not message.secret:
            raise PermanentDeliveryError("no signing secret for this webhook")
        body = orjson.dumps(message.payload)
        headers = {
            "content-type": "application/json",
            "user-agent": "socpipe-notifier",
            **signing.headers(message.secret, message.notice_id, body),
        }
        try:
            response = httpx.post(message.destination, content=body, headers=headers, timeout=self.timeout)
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"HTTP: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status in (408, 429) or status >= 500:
            raise TransientDeliveryError(f"HTTP {status}")
        if status >= 400:
            raise PermanentDeliveryError(f"HTTP {status}: {response.text[:200]}")
        return f"http {status} body-sha256:{hashlib.sha256(response.content).hexdigest()}"


register(ChannelKind("email", EmailChannel, _email_address))
register(
    ChannelKind("webhook", WebhookChannel, _http_url, needs_secret=True, secret_hint="its whsec_ secret")
)
