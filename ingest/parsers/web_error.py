"""Web server error logs, nginx and Apache (2.2 and 2.4 formats), told apart per line.

nginx:  `2016/10/25 14:49:34 [error] 54053#0: *1 open() "..." failed (2: ...), client: 127.0.0.1, ...`
Apache: `[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 1.2.3.4:80] ...`

As Elastic's nginx and Apache integrations: `log.level`, `process.pid`, `process.thread.id`,
`source.ip` (and port), `message`; nginx's `request: "GET /x HTTP/1.1"` fills `http.request.method`,
`url.original` and `http.version`, its `host:` `url.domain`. Both formats write local times without an
offset: they are read in the record's `timezone` (UTC when unset), like RFC 3164 syslog.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ingest.parsers.base import ParseError, Parser, compact, make_event, record_zone
from ingest.parsers.linux.ecs import source
from schemas.event import EcsEvent
from schemas.raw import RawRecord

_NGINX = re.compile(
    r"(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(\w+)\] (\d+)#(\d+): (?:\*(\d+) )?(.*)$", re.DOTALL
)
_NGINX_KV = re.compile(r', (client|server|request|upstream|host|referrer): ("(?:[^"\\]|\\.)*"|[^,]*)')
_APACHE = re.compile(
    r"\[(\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4})\] \[(?:([\w-]+):)?(\w+)\]"
    r"(?: \[pid (\d+)(?::tid (\d+))?\])?(?: \[client ([^\]]+)\])? ?(.*)$",
    re.DOTALL,
)
_REQUEST = re.compile(r"(\S+) (\S+) HTTP/(\S+)$")


def _client(value: str) -> dict[str, Any] | None:
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and host.count(":") != 1:  # `1.2.3.4:80`, `[::1]:80`; not a bare IPv6
        return source(host.strip("[]"), port)
    return source(value)


def _nginx(m: re.Match[str], raw: RawRecord) -> EcsEvent:
    stamp, level, pid, tid, connection, message = m.groups()
    moment = datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S").replace(tzinfo=record_zone(raw))
    kv = {k: v.strip('"') for k, v in _NGINX_KV.findall(message)}
    request = _REQUEST.match(kv.get("request", ""))
    original = {"level": level, "connection_id": connection, **kv}
    src = source(kv["client"]) if "client" in kv else None
    return make_event(
        raw,
        timestamp=moment,
        original={k: v for k, v in original.items() if v is not None},
        log_extra={"level": level},
        message=message,
        event={"module": "nginx", "dataset": "nginx.error", "category": ["web"], "type": ["error"]},
        process={"pid": int(pid), "thread": {"id": int(tid)}},
        source={k: v for k, v in src.items() if k != "address"} if src else None,
        url=compact(original=request[2] if request else None, domain=kv.get("host")),
        http=compact(
            version=request[3] if request else None,
            request=compact(method=request[1] if request else None, referrer=kv.get("referrer")),
        ),
    )


def _apache(m: re.Match[str], raw: RawRecord) -> EcsEvent:
    stamp, module, level, pid, tid, client, message = m.groups()
    fmt = "%a %b %d %H:%M:%S.%f %Y" if "." in stamp else "%a %b %d %H:%M:%S %Y"
    try:
        moment = datetime.strptime(stamp, fmt).replace(tzinfo=record_zone(raw))
    except ValueError:
        raise ParseError(f"bad Apache error-log time {stamp!r}") from None
    src = _client(client) if client else None
    original = {"level": level, "module": module, "client": client}
    return make_event(
        raw,
        timestamp=moment,
        original={k: v for k, v in original.items() if v is not None},
        log_extra={"level": level},
        message=message,
        event={"module": "apache", "dataset": "apache.error", "category": ["web"], "type": ["error"]},
        process=compact(pid=int(pid) if pid else None, thread=compact(id=int(tid) if tid else None)),
        source={k: v for k, v in src.items() if k != "address"} if src else None,
    )


def parse(raw: RawRecord) -> EcsEvent:
    line = raw.data.rstrip("\r\n")
    if m := _NGINX.match(line):
        return _nginx(m, raw)
    if m := _APACHE.match(line):
        return _apache(m, raw)
    raise ParseError(
        "not an nginx or Apache error-log line: expected 'yyyy/mm/dd hh:mm:ss [level] pid#tid: ...' "
        "or '[Www Mmm dd hh:mm:ss yyyy] [level] ...'"
    )


PARSER = Parser(
    name="web_error",
    parse=parse,
    description="nginx and Apache error logs",
    local_times=True,
)
