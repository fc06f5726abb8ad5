"""Which notices the sweep may deliver again: pending ones, and transient failures within their rounds."""

from __future__ import annotations

from responders.evidence.documents import notice_doc
from responders.notices.notifier import retryable
from responders.notices.sweep import MAX_ROUNDS, _final, _retry_due
from schemas.notice import Notice, NoticeStatus
from socpipe.settings import Settings


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


def test_a_transient_failure_is_retried_for_a_bounded_number_of_rounds() -> None:
    """Attempts add up over rounds; after MAX_ROUNDS rounds' worth the sweep stops retrying."""
    settings = Settings(notice_attempts=4)
    error = "gave up after 4 attempts: HTTP 503"
    assert _retry_due(_notice(NoticeStatus.failed, error, attempts=4), settings)
    assert not _retry_due(_notice(NoticeStatus.failed, error, attempts=4 * MAX_ROUNDS), settings)
