"""Credential events: which milestones earn a credential, and what the events refuse."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from yts_contracts import Achievement, CredentialIssued, MilestoneKind

ISSUED = {
    "credential_id": "0c9a2f4e-6b1d-4e8a-9f3c-5d7e2a1b8c40",
    "trainer_id": "e4b7c2a9-5f18-4d3c-9e6b-1a0f7d2c8e35",
    "achievement": "certified",
    "milestone_id": "3e7bcdfd-b1d9-5450-924a-eef971f2573e",
    "issued_on": "2023-10-26",
    "issued_at": "2023-10-26T09:00:04+05:00",
    "verification_url": "https://credentials.example/credentials/0c9a2f4e",
}


def test_only_trainer_milestones_earn_a_credential() -> None:
    earned = {kind: Achievement.of_milestone(kind) for kind in MilestoneKind}
    assert {kind for kind, achievement in earned.items() if achievement} == {
        MilestoneKind.TRAINER_CERTIFIED,
        MilestoneKind.TRAINER_FIRST_SESSION,
        MilestoneKind.TRAINER_SESSIONS_5,
        MilestoneKind.TRAINER_PEERS_100,
    }
    for kind, achievement in earned.items():
        if achievement is not None:
            assert achievement.milestone_kind is kind


def test_issued_event_needs_a_public_verification_url() -> None:
    CredentialIssued.model_validate(ISSUED)
    with pytest.raises(ValidationError, match="verification_url"):
        CredentialIssued.model_validate({**ISSUED, "verification_url": "javascript:alert(1)"})


def test_issued_event_refuses_an_unknown_achievement() -> None:
    with pytest.raises(ValidationError, match="achievement"):
        CredentialIssued.model_validate({**ISSUED, "achievement": "school.sessions.20"})
