"""AWS CloudTrail records, one per line or as the `{"Records": [...]}` documents CloudTrail writes to S3.

`original` keeps CloudTrail's names, nested ones dotted (`userIdentity.type`, `requestParameters.x`),
as Sigma's cloudtrail rules use them.
"""

from __future__ import annotations

from typing import Any

from ingest.parsers.base import (
    ParseError,
    Parser,
    compact,
    flatten,
    is_ip,
    load_object,
    make_event,
    parse_time,
    text,
)
from schemas.event import EcsEvent
from schemas.raw import RawRecord


def _event(raw: RawRecord, record: Any, where: str = "") -> EcsEvent:
    if not isinstance(record, dict):
        raise ParseError(f"{where}expected a CloudTrail record object, got {type(record).__name__}")
    if "eventTime" not in record or "eventName" not in record:
        raise ParseError(f"{where}not a CloudTrail record: needs 'eventTime' and 'eventName'")
    flat = flatten(record)
    source_ip = text(flat.get("sourceIPAddress"))
    user = (
        text(flat.get("userIdentity.userName"))
        or (text(flat.get("userIdentity.arn")) or "").rpartition("/")[2]
    )
    return make_event(
        raw,
        timestamp=parse_time(record["eventTime"], field=f"{where}eventTime"),
        original=flat,
        event={
            "module": "aws",
            "dataset": "aws.cloudtrail",
            "provider": text(flat.get("eventSource")),
            "action": text(flat.get("eventName")),
            "id": text(flat.get("eventID")),
            "outcome": "failure" if flat.get("errorCode") else "success",
        },
        cloud=compact(
            provider="aws",
            region=text(flat.get("awsRegion")),
            account=compact(
                id=text(flat.get("recipientAccountId")) or text(flat.get("userIdentity.accountId"))
            ),
            service=compact(name=(text(flat.get("eventSource")) or "").split(".")[0] or None),
        ),
        user=compact(name=user or None, id=text(flat.get("userIdentity.principalId"))),
        source=compact(ip=source_ip) if is_ip(source_ip) else compact(domain=source_ip),
        user_agent=compact(original=text(flat.get("userAgent"))),
    )


def parse(raw: RawRecord) -> EcsEvent:
    doc = load_object(raw)
    if "Records" in doc:
        records = doc["Records"]
        if not isinstance(records, list) or len(records) != 1:
            raise ParseError("a CloudTrail document with several records: use parse_all")
        return _event(raw, records[0], "Records[0]: ")
    return _event(raw, doc)


def parse_all(raw: RawRecord) -> list[EcsEvent]:
    """Every record of a `{"Records": [...]}` document; one bad record fails the document."""
    doc = load_object(raw)
    if "Records" not in doc:
        return [_event(raw, doc)]
    records = doc["Records"]
    if not isinstance(records, list):
        raise ParseError("'Records' is not a list")
    return [_event(raw, record, f"Records[{i}]: ") for i, record in enumerate(records)]


PARSER = Parser(name="cloudtrail", parse=parse, parse_all=parse_all, description="AWS CloudTrail records")
