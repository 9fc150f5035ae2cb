"""Milestone ids are derived from kind and subject, so each milestone is recognisable forever."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from yts_contracts import MilestoneKind, MilestoneReached, SubjectType, milestone_id

TRAINER = uuid.UUID("e4b7c2a9-5f18-4d3c-9e6b-1a0f7d2c8e35")
OTHER_TRAINER = uuid.UUID("9a3d5f71-2e6c-4b80-8f1d-c4e7a9b2d063")
SCHOOL = uuid.UUID("3b0f6d2e-8a41-4c7e-9d15-6f2a9c1e7b40")


def test_milestone_id_is_the_same_every_time() -> None:
    first = milestone_id(MilestoneKind.TRAINER_CERTIFIED, SubjectType.TRAINER, TRAINER)
    assert first == milestone_id("trainer.certified", "trainer", str(TRAINER))
    assert first == milestone_id("trainer.certified", "trainer", str(TRAINER).upper())


def test_milestone_id_never_changes_across_releases() -> None:
    # Pinned: a different value would break deduplication of milestones already published.
    assert milestone_id("trainer.certified", "trainer", TRAINER) == uuid.UUID(
        "3e7bcdfd-b1d9-5450-924a-eef971f2573e"
    )
    assert milestone_id("programme.peers.1000", "programme", None) == uuid.UUID(
        "50f3514e-e8b3-5a50-829e-211078e11004"
    )


def test_milestone_id_differs_across_kinds_and_subjects() -> None:
    ids = {
        milestone_id(MilestoneKind.TRAINER_CERTIFIED, "trainer", TRAINER),
        milestone_id(MilestoneKind.TRAINER_FIRST_SESSION, "trainer", TRAINER),
        milestone_id(MilestoneKind.TRAINER_SESSIONS_5, "trainer", TRAINER),
        milestone_id(MilestoneKind.TRAINER_CERTIFIED, "trainer", OTHER_TRAINER),
        milestone_id(MilestoneKind.SCHOOL_FIRST_SESSION, "school", SCHOOL),
        milestone_id(MilestoneKind.SCHOOL_SESSIONS_20, "school", SCHOOL),
        milestone_id(MilestoneKind.PROGRAMME_PEERS_1000, "programme", None),
        milestone_id(MilestoneKind.PROGRAMME_PEERS_5000, "programme", None),
    }
    assert len(ids) == 8


def test_every_kind_has_an_id_for_its_subject_type() -> None:
    ids = {
        milestone_id(kind, kind.subject_type, None if kind.subject_type == "programme" else SCHOOL)
        for kind in MilestoneKind
    }
    assert len(ids) == len(MilestoneKind)


@pytest.mark.parametrize(
    ("kind", "subject_type", "subject_id"),
    [
        ("school.sessions.20", "trainer", TRAINER),
        ("programme.peers.1000", "programme", SCHOOL),
        ("trainer.certified", "trainer", None),
    ],
)
def test_milestone_id_refuses_a_subject_that_does_not_fit_the_kind(
    kind: str, subject_type: str, subject_id: uuid.UUID | None
) -> None:
    with pytest.raises(ValueError, match="milestone"):
        milestone_id(kind, subject_type, subject_id)


def test_milestone_reached_accepts_only_its_derived_id() -> None:
    payload = {
        "milestone_id": str(milestone_id("trainer.first_session", "trainer", TRAINER)),
        "kind": "trainer.first_session",
        "subject": {"type": "trainer", "id": str(TRAINER)},
        "reached_at": "2024-10-17T12:00:00+05:00",
        "evidence": {"sessions_delivered": 1},
        "caused_by": "01923f6c-8a10-7b3e-9c4d-2e6f8a1b3c5d",
    }
    event = MilestoneReached.model_validate(payload)
    assert event.ce_subject() == payload["milestone_id"]
    with pytest.raises(ValidationError, match="not derived from kind and subject"):
        MilestoneReached.model_validate({**payload, "milestone_id": str(uuid.uuid4())})
