"""Standard Webhooks signatures: the specification's example, and what a receiver refuses."""

from __future__ import annotations

import pytest

from responders.notices import signing

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'


def test_signature_matches_the_specifications_example() -> None:
    """HMAC-SHA256 over id.timestamp.body with the base64 secret, as `v1,<base64>`."""
    assert signing.sign(SECRET, MSG_ID, TS, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_receiver_accepts_good_and_refuses_tampered_or_stale() -> None:
    """A changed body, a wrong secret or a timestamp out of tolerance is refused."""
    headers = signing.headers(SECRET, MSG_ID, BODY, timestamp=TS)
    signing.verify(SECRET, headers, BODY, now=TS + 10)
    with pytest.raises(signing.SignatureError):
        signing.verify(SECRET, headers, BODY + b" ", now=TS)
    with pytest.raises(signing.SignatureError):
        signing.verify("whsec_" + "A" * 32, headers, BODY, now=TS)
    with pytest.raises(signing.SignatureError):
        signing.verify(SECRET, headers, BODY, now=TS + 301)


def test_several_signatures_during_rotation() -> None:
    """A receiver accepts when any of the space-separated signatures matches."""
    headers = signing.headers(SECRET, MSG_ID, BODY, timestamp=TS)
    headers["webhook-signature"] = "v1,bm9wZQ== " + headers["webhook-signature"]
    signing.verify(SECRET, headers, BODY, now=TS)
