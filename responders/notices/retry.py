"""When a transiently failing notice is tried again, and when it is given up for good.

A round of delivery (notifier.py) makes `notice_attempts` quick attempts. When they all fail
transiently (timeouts, 5xx, SMTP 4xx), the notice is recorded `failed` with an error starting with
`GAVE_UP` and a `retry_at`: the sweep (sweep.py) takes it again from then. The wait between rounds starts
at the claim timeout (a fresher claim could be a live worker's, and the take-over refuses it), doubles
each round, is jittered by up to a tenth, and is capped at `notice_retry_max_s`; so a client endpoint
that is down for hours gets a try every quarter of an hour by default, and its notices arrive soon after
it is back.

Retrying never goes on silently for ever: a notice still failing `notice_give_up_after_s` after its
first try is failed for good, its error starting with `EXPIRED` (it says how long, how many attempts,
and the last error); that is counted (`notices{result="expired"}`), logged as an error and shown in the
tenant's notices index, and only `socpipe notice retry --include-failed` sends it again.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from schemas.notice import Notice, NoticeStatus
from socpipe.settings import Settings

GAVE_UP = "gave up after "  # a round's transient failure: the sweep retries it at `retry_at`
EXPIRED = "expired: "  # failed for good: still failing at the give-up age


def retryable(notice: Notice) -> bool:
    """Failed only because every attempt of its rounds failed transiently, and not given up yet."""
    return notice.status == NoticeStatus.failed and (notice.error or "").startswith(GAVE_UP)


def expired(notice: Notice) -> bool:
    return notice.status == NoticeStatus.failed and (notice.error or "").startswith(EXPIRED)


def rounds_done(attempts: int, settings: Settings) -> int:
    """Rounds of delivery a notice has had, from its attempts (each round makes up to notice_attempts)."""
    return max(1, -(-attempts // settings.notice_attempts))


def round_delay_s(rounds: int, settings: Settings, jitter: float | None = None) -> float:
    """The wait after `rounds` failed rounds: from the claim timeout, doubling, capped, jittered."""
    base = max(settings.claim_timeout_s, 1.0)
    delay: float = min(base * 2.0 ** min(rounds - 1, 30), settings.notice_retry_max_s)
    spread = random.random() if jitter is None else jitter  # spreading retries, not a secret
    return max(settings.claim_timeout_s, delay * (1 + 0.1 * spread))


def after_transient_failure(
    notice: Notice, attempts: int, error: str, *, first_tried_at: datetime, now: datetime, settings: Settings
) -> dict[str, Any]:
    """The notice's update after a round whose attempts all failed transiently: retry later, or expire.

    `attempts` is the notice's total over all its rounds, `error` the last attempt's error."""
    give_up = timedelta(seconds=settings.notice_give_up_after_s)
    round_attempts = attempts - notice.attempts
    if now - first_tried_at >= give_up:
        return {
            "status": NoticeStatus.failed,
            "retry_at": None,
            "error": (
                f"{EXPIRED}not delivered within notice_give_up_after_s={settings.notice_give_up_after_s:g} s "
                f"of its first try ({first_tried_at.isoformat()}), {attempts} attempts; last error: {error}"
            ),
        }
    wait = timedelta(seconds=round_delay_s(rounds_done(attempts, settings), settings))
    # The last round lands on the give-up age, so a notice is tried once more before it expires.
    retry_at = min(now + wait, first_tried_at + give_up)
    return {
        "status": NoticeStatus.failed,
        "retry_at": retry_at,
        "error": f"{GAVE_UP}{round_attempts} attempts: {error}; next round at {retry_at.isoformat()}",
    }
