"""Which notices the sweep may deliver again: pending ones, and transient failures until the give-up age;
and when (retry.py: bounded, jittered backoff between rounds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from responders.evidence.documents import notice_doc
from responders.notices.retry import after_transient_failure, expired, retryable, round_delay_s
from responders.notices.sweep import _final, _retry_due
from schemas.notice import Notice, NoticeStatus
from socpipe.settings import Settings

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def _notice(status: NoticeStatus, error: str | None = None, attempts: int = 0) -> Notice:
    return Notice(
        id="n1",
        tenant="acme",
        incident_id="i1",
        incident_state="close",
        channel="webhook",
        destination="https://hooks.example/acme",
        subject="",
        status=status,
        error=error,
        attempts=attempts,
    )


def test_only_a_failure_that_gave_up_on_transient_errors_is_retryable() -> None:
    """ "gave up after N attempts" (timeouts, 5xx) is retryable; "permanent: ..." (4xx) and sent are not."""
    assert retryable(_notice(NoticeStatus.failed, "gave up after 4 attempts: HTTP 503"))
    assert not retryable(_notice(NoticeStatus.failed, "permanent: HTTP 400: bad"))
    assert not retryable(_notice(NoticeStatus.sent))


def test_the_take_over_treats_pending_and_retryable_as_unfinished() -> None:
    """For the sweep's claim, pending and transiently failed documents are not final; the rest are."""
    unfinished = [_notice(NoticeStatus.pending), _notice(NoticeStatus.failed, "gave up after 4 attempts: x")]
    final = [
        _notice(NoticeStatus.sent),
        _notice(NoticeStatus.superseded),
        _notice(NoticeStatus.failed, "permanent: x"),
    ]
    assert [_final(notice_doc(n)) for n in unfinished] == [False, False]
    assert [_final(notice_doc(n)) for n in final] == [True, True, True]


def test_a_transient_failure_is_retried_at_its_retry_at_with_no_cap_on_rounds() -> None:
    """The worker's sweep takes a transient failure once its retry_at has come, however many rounds it
    has had (the old cap of three rounds stranded notices of a long outage); an operator's sweep at once."""
    error = "gave up after 4 attempts: HTTP 503"
    due = _notice(NoticeStatus.failed, error, attempts=400).model_copy(update={"retry_at": NOW})
    later = due.model_copy(update={"retry_at": NOW + timedelta(seconds=1)})
    assert _retry_due(due, NOW) and not _retry_due(later, NOW)
    assert _retry_due(later, NOW, due_only=False)
    assert not _retry_due(due.model_copy(update={"error": "expired: x"}), NOW)


def test_rounds_back_off_from_the_claim_timeout_doubling_up_to_the_cap() -> None:
    """60 s, 120 s, 240 s ... capped at notice_retry_max_s, plus at most a tenth of jitter; never
    below the claim timeout (a fresher claim could be a live worker's)."""
    settings = Settings(claim_timeout_s=60, notice_retry_max_s=900)
    assert [round_delay_s(r, settings, jitter=0) for r in (1, 2, 3, 4, 5, 50)] == [
        60,
        120,
        240,
        480,
        900,
        900,
    ]
    assert round_delay_s(5, settings, jitter=1) == pytest.approx(990)
    assert round_delay_s(1, Settings(claim_timeout_s=0.5), jitter=0) == 1.0


def test_a_notice_failing_past_the_give_up_age_expires_with_its_reason() -> None:
    """Before the give-up age: failed with a retry_at (never past the give-up age); at it: failed for
    good, no retry_at, an error that says why, how long and the last error."""
    settings = Settings(notice_attempts=4, notice_give_up_after_s=3600, claim_timeout_s=60)
    notice = _notice(NoticeStatus.pending, attempts=8)
    first = NOW - timedelta(minutes=59, seconds=30)
    update = after_transient_failure(notice, 12, "HTTP 503", first_tried_at=first, now=NOW, settings=settings)
    assert update["error"].startswith("gave up after 4 attempts: HTTP 503")
    assert update["retry_at"] == first + timedelta(hours=1)  # the last round lands on the give-up age

    at_age = first + timedelta(hours=1)
    gone = after_transient_failure(
        notice, 12, "HTTP 503", first_tried_at=first, now=at_age, settings=settings
    )
    final = notice.model_copy(update=gone)
    assert expired(final) and not retryable(final) and final.retry_at is None
    assert "notice_give_up_after_s=3600" in (final.error or "") and "last error: HTTP 503" in (
        final.error or ""
    )
