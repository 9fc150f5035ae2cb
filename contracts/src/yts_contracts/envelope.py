"""CloudEvents 1.0 in binary mode over NATS (the CloudEvents NATS protocol binding).

The message body is the event's ``data`` as JSON; the context attributes travel as ``ce-*``
headers. ``ce-id`` doubles as JetStream's ``Nats-Msg-Id`` so that the server's duplicate window
and every consumer's inbox drop a re-published event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from yts_contracts.catalog import CATALOG, Catalog
from yts_contracts.event import SCHEMA_URN_PREFIX, EventData, schema_uri

__all__ = ["SCHEMA_URN_PREFIX", "EventData", "schema_uri"]  # re-exported: the wire format's parts

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
MSG_ID_HEADER = "Nats-Msg-Id"

# Header names of the binding, in the order they are written.
H_SPECVERSION = "ce-specversion"
H_ID = "ce-id"
H_SOURCE = "ce-source"
H_TYPE = "ce-type"
H_TIME = "ce-time"
H_SUBJECT = "ce-subject"
H_DATASCHEMA = "ce-dataschema"
# The binding maps the datacontenttype attribute to its own header (what SDKs that follow the
# NATS binding read); Content-Type carries the same value for plain NATS clients.
H_DATACONTENTTYPE = "ce-datacontenttype"
H_CONTENT_TYPE = "Content-Type"
H_TRACEPARENT = "traceparent"


@dataclass(frozen=True, slots=True)
class CloudEventAttributes:
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    dataschema: str | None = None
    specversion: str = SPEC_VERSION
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class NatsEnvelope:
    """What goes on the wire: subject, headers and body of one NATS message."""

    subject: str
    headers: dict[str, str]
    body: bytes

    @property
    def event_id(self) -> str:
        return self.headers[H_ID]


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    attributes: CloudEventAttributes
    data: EventData
    extra_headers: Mapping[str, str] = field(default_factory=dict)


class ContractViolation(ValueError):
    """A message that can never be processed under the contracts (poison): bad JSON, unknown
    type or version, missing attributes or invalid data. The reason is for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def format_time(moment: datetime) -> str:
    """A CloudEvents ``time``: RFC 3339 in UTC with a ``Z``, as every event carries it."""
    if moment.tzinfo is None:
        raise ValueError("CloudEvents time must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_nats(
    data: EventData,
    *,
    source: str,
    event_id: uuid.UUID | str,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> NatsEnvelope:
    """Wrap an event's data as a binary-mode CloudEvent on its NATS subject.

    The producer chooses the id (a UUIDv7 is preferred) and keeps it across re-publishes.
    Raises ValueError when ``event_id`` is not a UUID.
    """
    ident = str(uuid.UUID(str(event_id)))
    headers = {
        H_SPECVERSION: SPEC_VERSION,
        H_ID: ident,
        H_SOURCE: source,
        H_TYPE: data.event_type,
        H_TIME: format_time(time or datetime.now(UTC)),
        H_DATASCHEMA: data.dataschema(),
        H_DATACONTENTTYPE: CONTENT_TYPE,
        H_CONTENT_TYPE: CONTENT_TYPE,
        MSG_ID_HEADER: ident,
    }
    subject = data.ce_subject()
    if subject is not None:
        headers[H_SUBJECT] = subject
    if traceparent:
        headers[H_TRACEPARENT] = traceparent
    body = data.model_dump_json().encode()
    return NatsEnvelope(subject=data.event_type, headers=headers, body=body)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if name in headers:
        return headers[name]
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def read_attributes(headers: Mapping[str, str] | None) -> CloudEventAttributes:
    """Read and check the ``ce-*`` headers; raises ContractViolation naming what is wrong."""
    headers = headers or {}
    missing = [
        h for h in (H_SPECVERSION, H_ID, H_SOURCE, H_TYPE, H_TIME) if not _header(headers, h)
    ]
    if missing:
        raise ContractViolation(f"missing CloudEvents header(s): {', '.join(missing)}")
    raw_id = _header(headers, H_ID) or ""
    try:
        uuid.UUID(raw_id)
    except ValueError as exc:
        raise ContractViolation(f"ce-id {raw_id!r} is not a UUID") from exc
    version = _header(headers, H_SPECVERSION)
    if version != SPEC_VERSION:
        raise ContractViolation(f"unsupported ce-specversion {version!r}; expected {SPEC_VERSION}")
    raw_time = _header(headers, H_TIME) or ""
    try:
        moment = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ContractViolation(f"ce-time {raw_time!r} is not an RFC 3339 timestamp") from exc
    if moment.tzinfo is None:
        raise ContractViolation(f"ce-time {raw_time!r} has no time zone")
    for name in (H_DATACONTENTTYPE, H_CONTENT_TYPE):
        content_type = _header(headers, name)
        if content_type is not None and content_type.split(";")[0].strip() != CONTENT_TYPE:
            raise ContractViolation(f"unsupported {name} {content_type!r}; expected {CONTENT_TYPE}")
    return CloudEventAttributes(
        id=_header(headers, H_ID) or "",
        source=_header(headers, H_SOURCE) or "",
        type=_header(headers, H_TYPE) or "",
        time=moment,
        subject=_header(headers, H_SUBJECT),
        dataschema=_header(headers, H_DATASCHEMA),
        traceparent=_header(headers, H_TRACEPARENT),
    )


def from_nats(
    subject: str,
    headers: Mapping[str, str] | None,
    body: bytes,
    catalog: Catalog = CATALOG,
) -> ReceivedEvent:
    """Decode and validate one NATS message against the catalogue.

    Raises ContractViolation for anything that can never be processed: the caller dead-letters it.
    """
    attributes = read_attributes(headers)
    if attributes.type != subject:
        raise ContractViolation(f"ce-type {attributes.type!r} does not match subject {subject!r}")
    spec = catalog.get(attributes.type)
    if spec is None:
        raise ContractViolation(f"unknown event type or version {attributes.type!r}")
    try:
        payload: Any = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8 and bad syntax; a body nested deeper than the parser's
        # recursion limit raises RecursionError, and is as undecodable on every delivery.
        raise ContractViolation(f"body is not JSON: {exc}") from exc
    try:
        data = spec.model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ContractViolation(f"data invalid for {attributes.type}: {problems}") from exc
    known = {
        h.lower()
        for h in (
            H_SPECVERSION,
            H_ID,
            H_SOURCE,
            H_TYPE,
            H_TIME,
            H_SUBJECT,
            H_DATASCHEMA,
            H_DATACONTENTTYPE,
            H_CONTENT_TYPE,
            H_TRACEPARENT,
            MSG_ID_HEADER,
        )
    }
    extra = {k: v for k, v in (headers or {}).items() if k.lower() not in known}
    return ReceivedEvent(attributes=attributes, data=data, extra_headers=extra)
