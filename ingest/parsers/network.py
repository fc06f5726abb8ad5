"""Network monitors' JSON logs: Zeek (`zeek`) and Suricata EVE (`suricata`).

Both keep their own field names as `original` (Zeek's `id.orig_h`, `query`; Suricata's `src_ip`,
`alert.signature` ...), which is what Sigma's zeek and network rules are written against.
"""

from __future__ import annotations

from typing import Any

from ingest.parsers.base import (
    ParseError,
    Parser,
    compact,
    first_time,
    flatten,
    load_object,
    make_event,
    text,
    to_int,
)
from schemas.event import EcsEvent
from schemas.raw import RawRecord


def _zeek_path(record: dict[str, Any]) -> str:
    """The Zeek log a record came from: its `_path`, else guessed from the fields it has."""
    path = text(record.get("_path"))
    if path:
        return path
    for guess, field in (("dns", "query"), ("http", "method"), ("ssl", "server_name"), ("files", "fuid")):
        if field in record:
            return guess
    return "conn" if "id.orig_h" in record else "unknown"


def parse_zeek(raw: RawRecord) -> EcsEvent:
    record = flatten(load_object(raw))
    if "ts" not in record:
        raise ParseError("not a Zeek JSON record: no 'ts' field")
    path = _zeek_path(record)
    return make_event(
        raw,
        timestamp=first_time(record, ("ts",), raw),
        original=record,
        event={"module": "zeek", "dataset": f"zeek.{path}", "id": text(record.get("uid"))},
        source=compact(ip=text(record.get("id.orig_h")), port=to_int(record.get("id.orig_p"))),
        destination=compact(ip=text(record.get("id.resp_h")), port=to_int(record.get("id.resp_p"))),
        network=compact(transport=text(record.get("proto")), protocol=text(record.get("service"))),
        dns=compact(
            question=compact(name=text(record.get("query")), type=text(record.get("qtype_name"))),
            response_code=text(record.get("rcode_name")),
        )
        if path == "dns"
        else None,
        url=compact(original=text(record.get("uri")), domain=text(record.get("host")))
        if path == "http"
        else None,
        http=compact(
            request=compact(method=text(record.get("method")), referrer=text(record.get("referrer"))),
            response=compact(status_code=to_int(record.get("status_code"))),
        )
        if path == "http"
        else None,
        user_agent=compact(original=text(record.get("user_agent"))) if path == "http" else None,
    )


def parse_suricata(raw: RawRecord) -> EcsEvent:
    record = flatten(load_object(raw))
    event_type = text(record.get("event_type"))
    if not event_type or "timestamp" not in record:
        raise ParseError("not a Suricata EVE record: needs 'timestamp' and 'event_type'")
    alert = event_type == "alert"
    severity = to_int(record.get("alert.severity"))
    return make_event(
        raw,
        timestamp=first_time(record, ("timestamp",), raw),
        original=record,
        event={
            "kind": "alert" if alert else "event",
            "module": "suricata",
            "dataset": "suricata.eve",
            "action": text(record.get("alert.action")) if alert else event_type,
            "severity": severity,
        },
        host={"name": text(record.get("host"))} if text(record.get("host")) else None,
        source=compact(ip=text(record.get("src_ip")), port=to_int(record.get("src_port"))),
        destination=compact(ip=text(record.get("dest_ip")), port=to_int(record.get("dest_port"))),
        network=compact(
            transport=(text(record.get("proto")) or "").lower() or None,
            protocol=text(record.get("app_proto")),
            community_id=text(record.get("community_id")),
        ),
        rule=compact(
            id=text(record.get("alert.signature_id")),
            name=text(record.get("alert.signature")),
            category=text(record.get("alert.category")),
        )
        if alert
        else None,
        dns=compact(
            question=compact(name=text(record.get("dns.rrname")), type=text(record.get("dns.rrtype")))
        )
        if event_type == "dns"
        else None,
        url=compact(original=text(record.get("http.url")), domain=text(record.get("http.hostname"))),
        http=compact(
            request=compact(method=text(record.get("http.http_method"))),
            response=compact(status_code=to_int(record.get("http.status"))),
        ),
        user_agent=compact(original=text(record.get("http.http_user_agent"))),
    )


ZEEK = Parser(name="zeek", parse=parse_zeek, description="Zeek logs written as JSON (conn, dns, http, ...)")
SURICATA = Parser(
    name="suricata", parse=parse_suricata, description="Suricata EVE JSON (alert, dns, http, flow ...)"
)
