"""The catalogue maps every event type to its model and stream, and the streams match the design."""

from __future__ import annotations

import pytest
from yts_contracts import (
    CATALOG,
    CREDENTIALS_STREAM,
    DLQ_STREAM,
    ENROLMENT_STREAM,
    MILESTONES_STREAM,
    PRIVATE_STREAM,
    SESSIONS_STREAM,
    STREAMS,
    Catalog,
    EventSpec,
    SchoolContact,
    TrainerEnrolled,
    stream_for_subject,
)
from yts_contracts.streams import subject_matches

DESIGNED_TYPES = {
    "yts.enrolment.school.registered.v1",
    "yts.enrolment.cohort.opened.v1",
    "yts.enrolment.trainer.enrolled.v1",
    "yts.enrolment.trainer.withdrawn.v1",
    "yts.enrolment.trainer.erased.v1",
    "yts.private.enrolment.school.contact.v1",
    "yts.sessions.module.completed.v1",
    "yts.sessions.session.completed.v1",
    "yts.sessions.session.cancelled.v1",
    "yts.milestones.milestone.reached.v1",
    "yts.credentials.credential.issued.v1",
    "yts.credentials.credential.revoked.v1",
}


def test_catalogue_holds_exactly_the_designed_events() -> None:
    assert set(CATALOG) == DESIGNED_TYPES
    for event_type, spec in CATALOG.items():
        assert spec.type == event_type == spec.model.event_type
        assert spec.stream == spec.model.stream
        assert spec.description == spec.model.description != ""


def test_catalogue_lookup() -> None:
    spec = CATALOG.get("yts.enrolment.trainer.enrolled.v1")
    assert spec == EventSpec.of(TrainerEnrolled)
    assert CATALOG.get("yts.enrolment.trainer.enrolled.v9") is None
    assert len(CATALOG) == len(list(CATALOG)) == 12


def test_catalogue_by_stream() -> None:
    assert set(CATALOG.by_stream(PRIVATE_STREAM)) == {SchoolContact.event_type}
    assert len(CATALOG.by_stream(ENROLMENT_STREAM)) == 5
    assert len(CATALOG.by_stream(SESSIONS_STREAM)) == 3
    assert len(CATALOG.by_stream(MILESTONES_STREAM)) == 1
    assert len(CATALOG.by_stream(CREDENTIALS_STREAM)) == 2
    assert len(CATALOG.by_stream(DLQ_STREAM)) == 0


def test_catalogue_refuses_a_type_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        Catalog.of(TrainerEnrolled, TrainerEnrolled)


def test_catalogue_refuses_a_model_on_the_wrong_stream() -> None:
    spec = EventSpec(
        "yts.enrolment.trainer.enrolled.v1", TrainerEnrolled, SESSIONS_STREAM, "misfiled"
    )
    with pytest.raises(ValueError, match="is stored in YTS_ENROLMENT"):
        Catalog([spec])


def test_streams_are_those_of_the_design() -> None:
    assert [(s.name, s.subjects, s.public) for s in STREAMS] == [
        ("YTS_ENROLMENT", ("yts.enrolment.>",), True),
        ("YTS_SESSIONS", ("yts.sessions.>",), True),
        ("YTS_MILESTONES", ("yts.milestones.>",), True),
        ("YTS_CREDENTIALS", ("yts.credentials.>",), True),
        ("YTS_PRIVATE", ("yts.private.>",), False),
        ("YTS_DLQ", ("yts.dlq.>",), False),
    ]


def test_stream_for_subject() -> None:
    assert stream_for_subject("yts.sessions.session.completed.v1").name == SESSIONS_STREAM
    assert stream_for_subject("yts.dlq.sessions.yts.enrolment.x.v1").name == DLQ_STREAM
    with pytest.raises(KeyError):
        stream_for_subject("yts.unknown.thing.v1")
    with pytest.raises(KeyError):
        stream_for_subject("yts.sessions")


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("yts.sessions.>", "yts.sessions.session.completed.v1", True),
        ("yts.sessions.>", "yts.sessions", False),
        ("yts.*.x", "yts.a.x", True),
        ("yts.*.x", "yts.a.b.x", False),
        ("yts.a", "yts.a", True),
        ("yts.a", "yts.a.b", False),
    ],
)
def test_subject_matching_follows_nats_wildcards(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches
