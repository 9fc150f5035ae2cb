"""The JetStream streams that hold the platform's events, and which subjects each one stores.

Streams are provisioned in one place (the project's provisioning command); services and partners
only bind to them. A stream that is not ``public`` is internal: no partner may read it.
"""

from __future__ import annotations

from dataclasses import dataclass

ENROLMENT_STREAM = "YTS_ENROLMENT"
SESSIONS_STREAM = "YTS_SESSIONS"
MILESTONES_STREAM = "YTS_MILESTONES"
CREDENTIALS_STREAM = "YTS_CREDENTIALS"
PRIVATE_STREAM = "YTS_PRIVATE"
DLQ_STREAM = "YTS_DLQ"


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    description: str
    public: bool

    def holds(self, subject: str) -> bool:
        """Whether a message published on ``subject`` is stored in this stream."""
        return any(subject_matches(pattern, subject) for pattern in self.subjects)


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        ENROLMENT_STREAM,
        ("yts.enrolment.>",),
        "Schools, cohorts and trainers: registered, opened, enrolled, withdrawn, erased. "
        "File storage, kept for replay.",
        public=True,
    ),
    StreamSpec(
        SESSIONS_STREAM,
        ("yts.sessions.>",),
        "Curriculum modules completed by trainers and peer sessions completed or cancelled. "
        "File storage, kept for replay.",
        public=True,
    ),
    StreamSpec(
        MILESTONES_STREAM,
        ("yts.milestones.>",),
        "Milestones reached by trainers, schools and the programme. File storage, kept for replay.",
        public=True,
    ),
    StreamSpec(
        CREDENTIALS_STREAM,
        ("yts.credentials.>",),
        "Verifiable credentials issued to trainers for their milestones, and revoked. File "
        "storage, kept for replay.",
        public=True,
    ),
    StreamSpec(
        PRIVATE_STREAM,
        ("yts.private.>",),
        "Coordinators' work contacts, for the platform's own services; no partner may read it.",
        public=False,
    ),
    StreamSpec(
        DLQ_STREAM,
        ("yts.dlq.>",),
        "Poison messages a consumer could never process, with the reason in headers.",
        public=False,
    ),
)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` matches one token, a final ``>`` one or more."""
    want = pattern.split(".")
    have = subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return index == len(want) - 1 and len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(have) == len(want)


def stream_for_subject(subject: str) -> StreamSpec:
    """The stream that stores messages published on ``subject``; KeyError if none does."""
    for stream in STREAMS:
        if stream.holds(subject):
            return stream
    raise KeyError(f"no stream stores subject {subject!r}")


def stream_named(name: str) -> StreamSpec:
    """The stream called ``name``; KeyError if there is none."""
    for stream in STREAMS:
        if stream.name == name:
            return stream
    raise KeyError(f"no stream named {name!r}")
