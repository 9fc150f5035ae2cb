"""session.cancelled.v1 states why as a code from a closed list: a sentence can name a minor,
and a published event can never be erased. Events already on the stream that carry a sentence
are read as ``other`` (tolerant reader): consumers keep counting the cancellation and never see
the sentence."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from yts_contracts import CancellationReason, SessionCancelled, from_nats, to_nats

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
CANCELLED = SessionCancelled.event_type
# Payloads published before reasons became codes: kept to prove they are still read.
LEGACY = sorted((CONTRACTS / "fixtures" / CANCELLED / "legacy").glob("*.json"))
NAMING_A_MINOR = "Aruzhan Abenova was ill"


def checked_in_schema() -> Draft202012Validator:
    schema = json.loads((CONTRACTS / "schemas" / f"{CANCELLED}.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def payload(reason: Any) -> dict[str, Any]:
    return {
        "session_id": "4e8a2c6f-1b9d-4a73-9e5c-b6f0d3a8c217",
        "school_id": "a7c2e915-1d3b-4f08-8e6a-2b9d4c7f0e13",
        "reason": reason,
        "cancelled_at": "2024-02-05T07:10:00Z",
    }


def received(body: dict[str, Any]) -> SessionCancelled:
    """The event as a consumer decodes it off NATS, whatever body was published."""
    envelope = to_nats(
        SessionCancelled.model_validate(payload("other")),
        source="/yts/sessions",
        event_id=uuid.uuid4(),
    )
    data = from_nats(envelope.subject, envelope.headers, json.dumps(body).encode()).data
    assert isinstance(data, SessionCancelled)
    return data


def test_the_reasons_are_a_closed_list_of_codes() -> None:
    assert [reason.value for reason in CancellationReason] == [
        "facilitator_unavailable",
        "school_closure",
        "schedule_conflict",
        "low_attendance",
        "weather",
        "other",
    ]
    for reason in CancellationReason:
        assert checked_in_schema().is_valid(payload(reason.value))


def test_the_checked_in_schema_refuses_a_sentence_as_the_reason() -> None:
    assert not checked_in_schema().is_valid(payload(NAMING_A_MINOR))
    assert not checked_in_schema().is_valid(payload("School closed for a public holiday."))


def test_a_sentence_given_to_the_model_is_published_as_other_and_never_reaches_the_wire() -> None:
    event = SessionCancelled(
        session_id=uuid.uuid4(),
        school_id=uuid.uuid4(),
        reason=NAMING_A_MINOR,
        cancelled_at=datetime.now(UTC),
    )

    body = to_nats(event, source="/yts/sessions", event_id=uuid.uuid4()).body

    assert json.loads(body)["reason"] == "other"
    assert b"Aruzhan" not in body


def test_there_are_events_published_with_a_sentence_to_read() -> None:
    assert len(LEGACY) >= 2


@pytest.mark.parametrize("path", LEGACY, ids=lambda p: p.stem)
def test_an_event_published_with_a_sentence_is_read_as_other_without_the_sentence(
    path: Path,
) -> None:
    old = json.loads(path.read_text(encoding="utf-8"))

    data = received(old)

    assert data.reason is CancellationReason.OTHER
    assert old["reason"] not in data.model_dump_json()
    assert str(data.session_id) == old["session_id"]
    # What the stream still holds no longer fits the published schema: read it, never send it.
    assert not checked_in_schema().is_valid(old)


def test_a_code_is_read_as_itself() -> None:
    assert received(payload("weather")).reason is CancellationReason.WEATHER


@pytest.mark.parametrize("reason", [None, 7, ["other"]])
def test_a_reason_that_is_not_text_is_refused(reason: Any) -> None:
    with pytest.raises(ValidationError):
        SessionCancelled.model_validate(payload(reason))
