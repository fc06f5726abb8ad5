"""Standard Webhooks signatures (https://www.standardwebhooks.com, spec v1).

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is HMAC-SHA256 keyed with
the base64-decoded part of a `whsec_...` secret, sent as `webhook-signature: v1,<base64>` (several
space-separated signatures are allowed while a secret is rotated). Receivers reject timestamps more
than five minutes off, and deduplicate on `webhook-id`, which is why it is the notice's deterministic id.

About twenty lines, so implemented here rather than pulling in the `standardwebhooks` package and
its dependencies; the unit tests check it against the specification's published example.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 5 * 60


class SignatureError(ValueError):
    """A webhook whose signature or timestamp does not check out."""


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
    }


def verify(secret: str, received: dict[str, str], body: bytes, now: float | None = None) -> None:
    """What a receiver does; raise SignatureError unless one of the v1 signatures matches in time."""
    lowered = {k.lower(): v for k, v in received.items()}
    try:
        msg_id, ts = lowered["webhook-id"], int(lowered["webhook-timestamp"])
    except (KeyError, ValueError) as exc:
        raise SignatureError(f"missing or bad webhook header: {exc}") from None
    if abs((time.time() if now is None else now) - ts) > TOLERANCE_S:
        raise SignatureError("timestamp outside the tolerance")
    expected = sign(secret, msg_id, ts, body)
    for candidate in lowered.get("webhook-signature", "").split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return
    raise SignatureError("no matching signature")
