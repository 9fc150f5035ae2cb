"""Malformed messages of every kind a consumer of enrolment's stream may meet, each with what its
dead letter's reason must say, and the good events they are mixed with."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import cycle, islice

from yts_contracts.enrolment import CohortOpened, SchoolRegistered, TrainerEnrolled
from yts_contracts.envelope import to_nats
from yts_contracts.event import EventData

SCHOOL = SchoolRegistered.event_type
TRAINER = TrainerEnrolled.event_type
COHORT = CohortOpened.event_type


@dataclass(frozen=True)
class Message:
    """One NATS message to publish: its kind, and for a good event the id it is applied under."""

    kind: str
    subject: str
    headers: dict[str, str] | None
    body: bytes
    reason_says: tuple[str, ...] = ()  # what the dead letter's reason must contain
    event_id: str | None = None  # a good event's ce-id


def school() -> SchoolRegistered:
    return SchoolRegistered(
        school_id=uuid.uuid4(),
        name=f"School No. {uuid.uuid4().hex[:6]}",
        district="Almaly",
        languages=["kk", "ru"],
        registered_at=datetime.now(UTC),
    )


def trainer() -> TrainerEnrolled:
    return TrainerEnrolled(
        trainer_id=uuid.uuid4(),
        school_id=uuid.uuid4(),
        cohort_id=uuid.uuid4(),
        grade=10,
        gender="female",
        languages=["kk"],
        enrolled_at=datetime.now(UTC),
    )


def cohort() -> CohortOpened:
    year = datetime.now(UTC).year
    return CohortOpened(
        cohort_id=uuid.uuid4(),
        name=f"{year}-{year + 1}",
        starts_on=datetime(year, 8, 15, tzinfo=UTC).date(),
        ends_on=datetime(year + 1, 6, 30, tzinfo=UTC).date(),
    )


def envelope(data: EventData) -> tuple[str, dict[str, str], bytes]:
    wrapped = to_nats(data, source="/yts/enrolment", event_id=uuid.uuid4())
    return wrapped.subject, dict(wrapped.headers), wrapped.body


def good(kind: str, data: EventData) -> Message:
    subject, headers, body = envelope(data)
    return Message(kind, subject, headers, body, event_id=headers["ce-id"])


def _bad_json(n: int) -> Message:
    subject, headers, body = envelope(school())
    # Cut at a different place each time: never valid JSON, never the same error position.
    return Message("bad JSON", subject, headers, body[: 1 + n % (len(body) - 2)], ("not JSON",))


def _deep_nesting(n: int) -> Message:
    subject, headers, _ = envelope(school())
    return Message(
        "deep nesting", subject, headers, b"[" * 100_000, ("not JSON", "recursion depth")
    )


def _invalid_utf8(n: int) -> Message:
    data = school()
    subject, headers, body = envelope(data)
    broken = body.replace(data.name.encode(), b"School \xff\xfe" + bytes([0x80 + n % 64]))
    return Message("invalid UTF-8", subject, headers, broken, ("not JSON", "'utf-8' codec"))


def _unknown_type(n: int) -> Message:
    subject, headers, body = envelope(school())
    subject = headers["ce-type"] = f"yts.enrolment.school.renamed{n % 7}.v1"
    return Message(
        "unknown type", subject, headers, body, (f"unknown event type or version {subject!r}",)
    )


def _unknown_version(n: int) -> Message:
    subject, headers, body = envelope(school())
    subject = headers["ce-type"] = SCHOOL.replace(".v1", f".v{90 + n % 9}")
    return Message(
        "unknown version", subject, headers, body, (f"unknown event type or version {subject!r}",)
    )


_REQUIRED_HEADERS = ("ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time")


def _missing_headers(n: int) -> Message:
    subject, headers, body = envelope(school())
    if n % (len(_REQUIRED_HEADERS) + 1) == len(_REQUIRED_HEADERS):
        # No headers at all: not even a Nats-Msg-Id.
        return Message("missing ce-* headers", subject, None, body, ("missing CloudEvents",))
    gone = _REQUIRED_HEADERS[n % len(_REQUIRED_HEADERS)]
    del headers[gone]
    return Message(
        "missing ce-* headers", subject, headers, body, (f"missing CloudEvents header(s): {gone}",)
    )


def _type_not_subject(n: int) -> Message:
    # A trainer's event published on the schools' subject.
    _, headers, body = envelope(trainer())
    return Message(
        "ce-type not the subject",
        SCHOOL,
        headers,
        body,
        (f"ce-type {TRAINER!r} does not match subject {SCHOOL!r}",),
    )


_FIELDS = ("district", "name", "school_id", "languages", "registered_at")


def _missing_field(n: int) -> Message:
    subject, headers, body = envelope(school())
    payload = json.loads(body)
    gone = _FIELDS[n % len(_FIELDS)]
    del payload[gone]
    return Message(
        "missing field",
        subject,
        headers,
        json.dumps(payload).encode(),
        (f"data invalid for {SCHOOL}", f"{gone}: Field required"),
    )


_GRADES = (8, 12, 0, -1, 100)


def _out_of_range(n: int) -> Message:
    subject, headers, body = envelope(trainer())
    payload = {**json.loads(body), "grade": _GRADES[n % len(_GRADES)]}
    return Message(
        "out-of-range field",
        subject,
        headers,
        json.dumps(payload).encode(),
        (f"data invalid for {TRAINER}", "grade: Input should be 9, 10 or 11"),
    )


def _huge_body(limit: int) -> Callable[[int], Message]:
    def make(n: int) -> Message:
        # A valid event but for its size: the padding is a field consumers ignore.
        subject, headers, body = envelope(school())
        pad = limit - len(body) + 1 + n % 1000
        padded = json.dumps({**json.loads(body), "padding": "x" * pad}).encode()
        return Message(
            "huge body",
            subject,
            headers,
            padded,
            (f"body of {len(padded)} bytes is over the limit of {limit} bytes",),
        )

    return make


def poison_makers(body_limit: int) -> dict[str, Callable[[int], Message]]:
    """Each kind of malformed message, by name: ``make(n)`` gives its n-th variant."""
    return {
        "bad JSON": _bad_json,
        "deep nesting": _deep_nesting,
        "invalid UTF-8": _invalid_utf8,
        "unknown type": _unknown_type,
        "unknown version": _unknown_version,
        "missing ce-* headers": _missing_headers,
        "ce-type not the subject": _type_not_subject,
        "missing field": _missing_field,
        "out-of-range field": _out_of_range,
        "huge body": _huge_body(body_limit),
    }


APPLIED = ("school registered", "trainer enrolled")
IGNORED = "cohort opened (not needed)"


def good_events(count: int) -> Iterator[Message]:
    """Events the consumer applies, schools and trainers in turn."""
    makers: tuple[Callable[[], Message], ...] = (
        lambda: good(APPLIED[0], school()),
        lambda: good(APPLIED[1], trainer()),
    )
    for make in islice(cycle(makers), count):
        yield make()


def ignored_events(count: int) -> Iterator[Message]:
    """Known events the consumer does not need: acknowledged, neither applied nor dead."""
    for _ in range(count):
        yield good(IGNORED, cohort())
