"""The intel holder: build, validate, swap; a broken feed keeps the running indicators; an HTTP feed
that goes away keeps its last good copy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from detectors.intel.config import IntelConfig
from detectors.intel.copies import SavedCopies
from detectors.intel.feeds import FeedError, FeedSet
from detectors.intel.reload import RETRY_MISSING_S, IntelHolder, summary


class _Feed(BaseHTTPRequestHandler):
    body: bytes | None = b"198.51.100.7\n"

    def do_GET(self) -> None:
        if _Feed.body is None:
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(_Feed.body)))
        self.end_headers()
        self.wfile.write(_Feed.body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A local feed server with `handler`, and the feed's URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed.txt"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_feed() -> Iterator[str]:
    _Feed.body = b"198.51.100.7\n"
    with _serving(_Feed) as url:
        yield url


def _values(holder: IntelHolder) -> set[str]:
    return {i.value for i in holder.current.global_index}


def test_reload_swaps_only_a_valid_build(tmp_path: Path) -> None:
    path = tmp_path / "feed.txt"
    path.write_text("198.51.100.1\n")
    holder = IntelHolder(FeedSet(IntelConfig.model_validate({"feeds": [{"name": "f", "path": path}]})))
    assert holder.take() is None  # nothing asked for
    path.write_text("198.51.100.1\nbad.example\n")
    holder.request()
    fresh = holder.take()
    assert fresh is holder.current and _values(holder) == {"198.51.100.1", "bad.example"}
    path.write_text("not a value at all\n")  # nothing readable: refused, the running set stays
    holder.request()
    assert holder.take() is None and holder.refused == 1
    assert _values(holder) == {"198.51.100.1", "bad.example"}


def test_refresh_schedule_and_http_outage(http_feed: str) -> None:
    clock = [0.0]
    config = IntelConfig.model_validate({"refresh_s": 60, "feeds": [{"name": "h", "url": http_feed}]})
    holder = IntelHolder(FeedSet(config), clock=lambda: clock[0])
    assert _values(holder) == {"198.51.100.7"}
    _Feed.body = b"198.51.100.7\n198.51.100.8\n"
    clock[0] = 30
    assert holder.take() is None  # not due yet
    clock[0] = 61
    assert holder.take() is not None and _values(holder) == {"198.51.100.7", "198.51.100.8"}
    _Feed.body = None  # the feed server fails: the last good copy stays, marked stale
    clock[0] = 122
    assert holder.take() is not None and _values(holder) == {"198.51.100.7", "198.51.100.8"}
    assert "h" in holder.last.stale


def test_a_url_feed_away_at_start_does_not_stop_detection_and_is_retried_soon(http_feed: str) -> None:
    """Its server away at start and no saved copy: the holder starts without it (the other feeds
    load), says so, and tries it again within RETRY_MISSING_S, not a whole refresh_s later."""
    _Feed.body = None
    clock = [0.0]
    config = IntelConfig.model_validate({"refresh_s": 3600, "feeds": [{"name": "h", "url": http_feed}]})
    holder = IntelHolder(FeedSet(config), clock=lambda: clock[0])
    assert _values(holder) == set() and "cannot fetch" in holder.last.missing["h"]
    _Feed.body = b"198.51.100.9\n"
    clock[0] = RETRY_MISSING_S - 1
    assert holder.take() is None
    clock[0] = RETRY_MISSING_S
    assert holder.take() is not None and _values(holder) == {"198.51.100.9"}
    assert holder.last.missing == {}
    clock[0] = RETRY_MISSING_S * 2  # loaded now: back on the feeds' own schedule
    assert holder.take() is None


def test_a_restart_while_the_feed_server_is_away_reads_the_saved_copy(http_feed: str, tmp_path: Path) -> None:
    """The body of the last good fetch is kept (0600); a new process whose fetch fails, or gets
    something unreadable, reads it and says which copy it read."""
    config = IntelConfig.model_validate({"feeds": [{"name": "h", "url": http_feed}]})
    copies = SavedCopies(tmp_path / "copies")
    FeedSet(config, copies).build()
    saved = copies.path(config.feeds[0])
    assert saved.read_bytes() == b"198.51.100.7\n" and saved.stat().st_mode & 0o777 == 0o600
    _Feed.body = None
    matcher, loaded = FeedSet(config, copies).build()
    assert {i.value for i in matcher.global_index} == {"198.51.100.7"}
    assert "read its copy saved" in loaded.stale["h"] and loaded.missing == {}
    _Feed.body = b"<html>maintenance</html>\n"  # answered, but not a feed
    matcher, loaded = FeedSet(config, copies).build()
    assert {i.value for i in matcher.global_index} == {"198.51.100.7"} and "h" in loaded.stale
    assert saved.read_bytes() == b"198.51.100.7\n"  # an unreadable body never replaces the copy


def test_a_feed_file_that_cannot_be_read_at_start_is_an_error(tmp_path: Path) -> None:
    """A path is the operator's own configuration: missing, it stops the start with its name."""
    config = IntelConfig.model_validate({"feeds": [{"name": "f", "path": tmp_path / "absent.txt"}]})
    with pytest.raises(FeedError, match="feed f: cannot read"):
        FeedSet(config, SavedCopies(tmp_path)).build()


MODIFIED = "Mon, 07 Dec 2026 10:00:00 GMT"


class _Versioned(BaseHTTPRequestHandler):
    """A feed server that sends validators and answers a matching conditional request with 304."""

    body = b"198.51.100.7\n"
    etag: str | None = '"v1"'
    last_modified: str | None = MODIFIED
    date: str | None = None  # the Date header, when not now
    asked: list[dict[str, str]] = []  # the conditional headers of each request
    bodies_sent = 0

    def do_GET(self) -> None:
        cls = _Versioned
        asked = {k: v for k, v in self.headers.items() if k.lower().startswith("if-")}
        cls.asked.append(asked)
        same_tag = cls.etag is not None and asked.get("If-None-Match") == cls.etag
        same_time = cls.etag is None and cls.last_modified is not None
        if same_tag or (same_time and asked.get("If-Modified-Since") == cls.last_modified):
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        if cls.etag:
            self.send_header("ETag", cls.etag)
        if cls.last_modified:
            self.send_header("Last-Modified", cls.last_modified)
        self.send_header("Content-Length", str(len(cls.body)))
        self.end_headers()
        cls.bodies_sent += 1  # before the body: the client may read it before this thread goes on
        self.wfile.write(cls.body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return _Versioned.date or super().date_time_string(timestamp)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def versioned_feed() -> Iterator[str]:
    _Versioned.body, _Versioned.etag, _Versioned.date = b"198.51.100.7\n", '"v1"', None
    _Versioned.last_modified, _Versioned.asked, _Versioned.bodies_sent = MODIFIED, [], 0
    with _serving(_Versioned) as url:
        yield url


def test_an_unchanged_url_feed_is_asked_conditionally_and_not_downloaded_or_read_again(
    versioned_feed: str,
) -> None:
    config = IntelConfig.model_validate({"feeds": [{"name": "h", "url": versioned_feed}]})
    holder = IntelHolder(FeedSet(config))
    running = holder.current
    assert _Versioned.asked == [{}] and _Versioned.bodies_sent == 1  # the first fetch is whole
    holder.request()
    assert holder.take() is None and holder.current is running  # 304: nothing to swap
    assert _Versioned.asked[-1] == {"If-None-Match": '"v1"', "If-Modified-Since": MODIFIED}
    assert _Versioned.bodies_sent == 1 and holder.last.unchanged == ["h"] and holder.reloads == 0
    assert summary(holder.last) == {"h": 1}  # its report stays
    _Versioned.body, _Versioned.etag = b"198.51.100.7\n198.51.100.8\n", '"v2"'  # published anew
    holder.request()
    assert holder.take() is not None and _values(holder) == {"198.51.100.7", "198.51.100.8"}
    assert _Versioned.bodies_sent == 2 and holder.last.unchanged == []
    holder.request()
    assert holder.take() is None and _Versioned.asked[-1]["If-None-Match"] == '"v2"'


def test_last_modified_alone_is_asked_and_a_server_without_validators_is_fetched_whole(
    versioned_feed: str,
) -> None:
    _Versioned.etag = None
    config = IntelConfig.model_validate({"feeds": [{"name": "h", "url": versioned_feed}]})
    holder = IntelHolder(FeedSet(config))
    holder.request()
    assert holder.take() is None and _Versioned.bodies_sent == 1
    assert _Versioned.asked[-1] == {"If-Modified-Since": MODIFIED}
    _Versioned.last_modified = None  # nothing to ask with: every refresh reads the whole feed
    _Versioned.body = b"198.51.100.9\n"
    holder.request()
    assert holder.take() is not None and _values(holder) == {"198.51.100.9"}
    holder.request()
    assert holder.take() is not None and _Versioned.asked[-1] == {} and _Versioned.bodies_sent == 3


def test_only_the_changed_feed_is_read_and_the_others_keep_their_indicators(
    versioned_feed: str, tmp_path: Path
) -> None:
    """A feed file rewritten beside an unchanged URL feed (304) and an unchanged file: the new matcher
    holds all three feeds' indicators, and only the rewritten one was parsed again."""
    changing, steady = tmp_path / "changing.txt", tmp_path / "steady.txt"
    changing.write_text("203.0.113.1\n")
    steady.write_text("steady.example\n")
    feeds = [
        {"name": "h", "url": versioned_feed},
        {"name": "c", "path": changing},
        {"name": "s", "path": steady},
    ]
    feed_set = FeedSet(IntelConfig.model_validate({"feeds": feeds}))
    holder = IntelHolder(feed_set)
    kept = {name: feed_set.last_good[name] for name in ("h", "s")}
    holder.request()
    assert holder.take() is None and sorted(holder.last.unchanged) == ["c", "h", "s"]
    changing.write_text("203.0.113.2\n")
    holder.request()
    assert holder.take() is not None
    assert _values(holder) == {"198.51.100.7", "203.0.113.2", "steady.example"}
    assert sorted(holder.last.unchanged) == ["h", "s"] and _Versioned.bodies_sent == 1
    assert all(feed_set.last_good[name] is kept[name] for name in kept)  # not parsed again


def test_a_last_modified_of_the_second_it_was_fetched_is_not_relied_on(versioned_feed: str) -> None:
    """HTTP dates have whole seconds: a feed rewritten in the second it was fetched keeps its date, so
    that date cannot tell the change and the next refresh fetches the feed whole (RFC 9110 8.8.2.2)."""
    _Versioned.etag, _Versioned.date = None, MODIFIED  # modified the very second it is served
    config = IntelConfig.model_validate({"feeds": [{"name": "h", "url": versioned_feed}]})
    holder = IntelHolder(FeedSet(config))
    _Versioned.body = b"198.51.100.7\n198.51.100.10\n"  # rewritten that same second
    holder.request()
    assert holder.take() is not None and _values(holder) == {"198.51.100.7", "198.51.100.10"}
    assert _Versioned.asked[-1] == {} and _Versioned.bodies_sent == 2


def test_a_restart_asks_with_the_saved_copys_validators_and_reads_the_copy_on_304(
    versioned_feed: str, tmp_path: Path
) -> None:
    """The validators are kept beside the saved copy: a new process asks with them and, answered 304,
    reads the copy instead of downloading the feed; a changed feed, a copy that no longer reads, or a
    server that stopped sending validators each get the whole feed."""
    config = IntelConfig.model_validate({"feeds": [{"name": "h", "url": versioned_feed}]})
    copies = SavedCopies(tmp_path / "copies")
    FeedSet(config, copies).build()
    version = copies.version(config.feeds[0])
    assert version is not None and version.etag == '"v1"'
    assert copies.version_path(config.feeds[0]).stat().st_mode & 0o777 == 0o600

    matcher, loaded = FeedSet(config, copies).build()  # a restart: 304, the copy is read
    assert {i.value for i in matcher.global_index} == {"198.51.100.7"} and loaded.unchanged == ["h"]
    assert _Versioned.asked[-1]["If-None-Match"] == '"v1"' and _Versioned.bodies_sent == 1
    assert summary(loaded) == {"h": 1} and loaded.stale == {} and loaded.missing == {}

    copies.path(config.feeds[0]).write_bytes(b"<html>not a feed</html>\n")  # the copy no longer reads
    matcher, loaded = FeedSet(config, copies).build()
    assert {i.value for i in matcher.global_index} == {"198.51.100.7"} and _Versioned.bodies_sent == 2
    assert copies.path(config.feeds[0]).read_bytes() == b"198.51.100.7\n"  # saved again

    _Versioned.body, _Versioned.etag = b"198.51.100.11\n", '"v2"'  # published anew while stopped
    matcher, _ = FeedSet(config, copies).build()
    assert {i.value for i in matcher.global_index} == {"198.51.100.11"} and _Versioned.bodies_sent == 3
    assert copies.version(config.feeds[0]) == version.model_copy(update={"etag": '"v2"'})

    _Versioned.etag = _Versioned.last_modified = None  # the server stops sending validators
    FeedSet(config, copies).build()
    assert copies.version(config.feeds[0]) is None  # the old ones are not kept for the new body
    FeedSet(config, copies).build()
    assert _Versioned.asked[-1] == {} and _Versioned.bodies_sent == 5
