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
# An extension attribute of this platform: who caused the event (``person:<id>``,
# ``token:<token id>`` or ``admin:bootstrap``), an id and never a name. Optional: events from
# consumers and older events have none.
H_ACTOR = "ce-actor"


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
    actor: str | None = None


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
    actor: str | None = None,
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
    if actor:
        headers[H_ACTOR] = actor
    body = data.model_dump_json().encode()
    return NatsEnvelope(subject=data.event_type, headers=headers, body=body)


# Every header name of the binding, lower-cased: the rest of a message's headers are kept aside.
_KNOWN_HEADERS = frozenset(
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
        H_ACTOR,
        MSG_ID_HEADER,
    )
)
_REQUIRED_HEADERS = (H_SPECVERSION, H_ID, H_SOURCE, H_TYPE, H_TIME)
_CONTENT_TYPE_HEADERS = (H_DATACONTENTTYPE, H_CONTENT_TYPE)  # the names as people read them


def _lower_cased(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers keyed by lower-cased name (header names are case-insensitive), once per
    message: every attribute is then one dictionary look-up."""
    if not headers:
        return {}
    return {key.lower(): value for key, value in headers.items()}


def read_attributes(headers: Mapping[str, str] | None) -> CloudEventAttributes:
    """Read and check the ``ce-*`` headers; raises ContractViolation naming what is wrong."""
    return _attributes(_lower_cased(headers))


def _attributes(headers: dict[str, str]) -> CloudEventAttributes:
    """``read_attributes`` over headers already keyed by lower-cased name (the binding's
    ``ce-*`` names are lower-case already)."""
    get = headers.get
    missing = [h for h in _REQUIRED_HEADERS if not get(h)]
    if missing:
        raise ContractViolation(f"missing CloudEvents header(s): {', '.join(missing)}")
    raw_id = headers[H_ID]
    try:
        uuid.UUID(raw_id)
    except ValueError as exc:
        raise ContractViolation(f"ce-id {raw_id!r} is not a UUID") from exc
    version = headers[H_SPECVERSION]
    if version != SPEC_VERSION:
        raise ContractViolation(f"unsupported ce-specversion {version!r}; expected {SPEC_VERSION}")
    raw_time = headers[H_TIME]
    try:
        moment = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ContractViolation(f"ce-time {raw_time!r} is not an RFC 3339 timestamp") from exc
    if moment.tzinfo is None:
        raise ContractViolation(f"ce-time {raw_time!r} has no time zone")
    for name in _CONTENT_TYPE_HEADERS:
        content_type = get(name.lower())
        if content_type is not None and content_type.split(";")[0].strip() != CONTENT_TYPE:
            raise ContractViolation(f"unsupported {name} {content_type!r}; expected {CONTENT_TYPE}")
    return CloudEventAttributes(
        id=raw_id,
        source=headers[H_SOURCE],
        type=headers[H_TYPE],
        time=moment,
        subject=get(H_SUBJECT),
        dataschema=get(H_DATASCHEMA),
        traceparent=get(H_TRACEPARENT),
        actor=get(H_ACTOR),
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
    lowered = _lower_cased(headers)
    attributes = _attributes(lowered)
    if attributes.type != subject:
        raise ContractViolation(f"ce-type {attributes.type!r} does not match subject {subject!r}")
    spec = catalog.get(attributes.type)
    if spec is None:
        raise ContractViolation(f"unknown event type or version {attributes.type!r}")
    try:
        # Parsed and validated in one pass by pydantic-core, straight from the bytes.
        data = spec.model.model_validate_json(body)
    except ValidationError as exc:
        raise ContractViolation(_reason(attributes.type, body, exc)) from exc
    except RecursionError as exc:  # nested past any parser's limit: as undecodable every time
        raise ContractViolation(f"body is not JSON: {exc}") from exc
    extra = (
        {k: v for k, v in headers.items() if k.lower() not in _KNOWN_HEADERS}
        if headers and len(lowered) > len(_KNOWN_HEADERS & lowered.keys())
        else {}
    )
    return ReceivedEvent(attributes=attributes, data=data, extra_headers=extra)


def _json_error(body: bytes) -> str | None:
    """Python's own words for a body that is not JSON (bad UTF-8, syntax, nesting past the
    recursion limit), read again only for a refused body, so reasons read as they always did."""
    try:
        json.loads(body)
    except (ValueError, RecursionError) as exc:
        return str(exc)
    return None


def _reason(event_type: str, body: bytes, exc: ValidationError) -> str:
    """A refusal's reason for people: the JSON that does not parse, or each invalid field."""
    errors = exc.errors(include_url=False, include_input=False)
    if any(err["type"] == "json_invalid" for err in errors):
        return f"body is not JSON: {_json_error(body) or '; '.join(e['msg'] for e in errors)}"
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in errors
    )
    return f"data invalid for {event_type}: {problems}"
