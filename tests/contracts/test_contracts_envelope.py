"""The CloudEvents binding over NATS: what producers put on the wire and what consumers refuse."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from yts_contracts import (
    CATALOG,
    ContractViolation,
    EventData,
    SchoolContact,
    SessionCompleted,
    TrainerEnrolled,
    from_nats,
    to_nats,
)
from yts_contracts.envelope import NatsEnvelope

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
EVENT_ID = uuid.UUID("01923f6c-8a10-7b3e-9c4d-2e6f8a1b3c5d")
ALMATY = timezone(timedelta(hours=5))
FIXTURE_FILES = sorted((CONTRACTS / "fixtures").glob("*/*.json"))


def fixture(event_type: str, name: str) -> EventData:
    payload = json.loads((CONTRACTS / "fixtures" / event_type / f"{name}.json").read_text())
    return CATALOG[event_type].model.model_validate(payload)


def enrolled() -> TrainerEnrolled:
    data = fixture("yts.enrolment.trainer.enrolled.v1", "grade-10-female-kk-ru")
    assert isinstance(data, TrainerEnrolled)
    return data


def wire(data: EventData | None = None) -> NatsEnvelope:
    return to_nats(
        data or enrolled(),
        source="/yts/enrolment",
        event_id=EVENT_ID,
        time=datetime(2024, 9, 16, 9, 30, tzinfo=ALMATY),
    )


def reason_of(subject: str, headers: dict[str, str] | None, body: bytes) -> str:
    with pytest.raises(ContractViolation) as caught:
        from_nats(subject, headers, body)
    assert caught.value.reason == str(caught.value)
    return caught.value.reason


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_event_survives_to_nats_then_from_nats(path: Path) -> None:
    data = fixture(path.parent.name, path.stem)
    envelope = wire(data)
    received = from_nats(envelope.subject, envelope.headers, envelope.body)
    assert received.data == data
    assert type(received.data) is type(data)
    assert received.attributes.id == str(EVENT_ID)
    assert received.attributes.subject == data.ce_subject()


def test_headers_carry_the_cloudevents_attributes_and_the_dedup_id() -> None:
    data = enrolled()
    envelope = wire(data)
    headers = envelope.headers
    assert envelope.subject == "yts.enrolment.trainer.enrolled.v1"
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-id"] == str(EVENT_ID)
    assert headers["Nats-Msg-Id"] == headers["ce-id"]
    assert headers["ce-source"] == "/yts/enrolment"
    assert headers["ce-type"] == envelope.subject
    assert headers["ce-time"] == "2024-09-16T04:30:00Z"
    assert headers["ce-subject"] == str(data.trainer_id)
    assert headers["ce-dataschema"] == "urn:yts:schema:yts.enrolment.trainer.enrolled.v1"
    # The CloudEvents NATS binding's own header for datacontenttype, and Content-Type beside it.
    assert headers["ce-datacontenttype"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert envelope.event_id == str(EVENT_ID)


def test_body_is_the_data_as_json_with_ids_as_strings() -> None:
    body = json.loads(wire().body)
    assert body["trainer_id"] == "e4b7c2a9-5f18-4d3c-9e6b-1a0f7d2c8e35"
    assert body["grade"] == 10
    assert "ce-id" not in body


def test_traceparent_travels_when_given() -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    envelope = to_nats(enrolled(), source="/yts/enrolment", event_id=EVENT_ID, traceparent=parent)
    assert envelope.headers["traceparent"] == parent
    received = from_nats(envelope.subject, envelope.headers, envelope.body)
    assert received.attributes.traceparent == parent


def test_the_actor_who_caused_an_event_travels_and_an_event_without_one_stays_valid() -> None:
    actor = "person:0b6f2c1e-7d4a-4f3b-9a8e-5c2d1e0f3a4b"
    envelope = to_nats(enrolled(), source="/yts/enrolment", event_id=EVENT_ID, actor=actor)
    assert envelope.headers["ce-actor"] == actor
    received = from_nats(envelope.subject, envelope.headers, envelope.body)
    assert received.attributes.actor == actor
    assert "ce-actor" not in received.extra_headers
    assert "ce-actor" not in wire().headers
    assert from_nats(wire().subject, wire().headers, wire().body).attributes.actor is None


def test_time_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    envelope = to_nats(enrolled(), source="/yts/enrolment", event_id=EVENT_ID)
    moment = datetime.fromisoformat(envelope.headers["ce-time"])
    assert before - timedelta(seconds=1) <= moment <= datetime.now(UTC) + timedelta(seconds=1)


def test_producer_cannot_publish_with_a_naive_time_or_a_non_uuid_id() -> None:
    with pytest.raises(ValueError, match="timezone"):
        to_nats(enrolled(), source="/yts/enrolment", event_id=EVENT_ID, time=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="badly formed hexadecimal UUID string"):
        to_nats(enrolled(), source="/yts/enrolment", event_id="event-1")


def test_header_names_are_matched_case_insensitively() -> None:
    envelope = wire()
    shouted = {key.upper(): value for key, value in envelope.headers.items()}
    assert from_nats(envelope.subject, shouted, envelope.body).data == enrolled()


def test_unknown_headers_are_kept_aside() -> None:
    envelope = wire()
    received = from_nats(envelope.subject, {**envelope.headers, "x-partner": "1"}, envelope.body)
    assert received.extra_headers == {"x-partner": "1"}


def test_bad_json_is_a_contract_violation() -> None:
    envelope = wire()
    assert "body is not JSON" in reason_of(envelope.subject, envelope.headers, b"{not json")
    assert "body is not JSON" in reason_of(envelope.subject, envelope.headers, b"\xff\xfe")


def test_unknown_type_or_version_is_a_contract_violation() -> None:
    envelope = wire()
    subject = "yts.enrolment.trainer.enrolled.v2"
    headers = {**envelope.headers, "ce-type": subject}
    reason = reason_of(subject, headers, envelope.body)
    assert "unknown event type or version" in reason
    assert subject in reason


def test_type_that_differs_from_the_subject_is_a_contract_violation() -> None:
    envelope = wire()
    reason = reason_of("yts.enrolment.trainer.withdrawn.v1", envelope.headers, envelope.body)
    assert "does not match subject" in reason


@pytest.mark.parametrize("header", ["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time"])
def test_missing_required_header_is_a_contract_violation(header: str) -> None:
    envelope = wire()
    headers = {k: v for k, v in envelope.headers.items() if k != header}
    reason = reason_of(envelope.subject, headers, envelope.body)
    assert f"missing CloudEvents header(s): {header}" in reason


def test_message_without_headers_is_a_contract_violation() -> None:
    envelope = wire()
    assert "missing CloudEvents header(s)" in reason_of(envelope.subject, None, envelope.body)


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("ce-specversion", "0.3", "unsupported ce-specversion"),
        ("ce-id", "event-1", "is not a UUID"),
        ("ce-time", "yesterday", "is not an RFC 3339 timestamp"),
        ("ce-time", "2024-09-16T09:30:00", "has no time zone"),
        ("Content-Type", "application/xml", "unsupported Content-Type"),
        ("ce-datacontenttype", "text/plain", "unsupported ce-datacontenttype"),
    ],
)
def test_malformed_attribute_is_a_contract_violation(
    header: str, value: str, expected: str
) -> None:
    envelope = wire()
    reason = reason_of(envelope.subject, {**envelope.headers, header: value}, envelope.body)
    assert expected in reason


def test_invalid_data_is_a_contract_violation_naming_the_field() -> None:
    envelope = wire()
    body = json.loads(envelope.body)
    body["grade"] = 8
    reason = reason_of(envelope.subject, envelope.headers, json.dumps(body).encode())
    assert reason.startswith("data invalid for yts.enrolment.trainer.enrolled.v1")
    assert "grade" in reason


def test_nested_invalid_data_names_the_path() -> None:
    data = fixture("yts.sessions.session.completed.v1", "two-facilitators-kk-with-feedback")
    envelope = wire(data)
    body = json.loads(envelope.body)
    body["feedback"]["average_rating"] = 6
    reason = reason_of(envelope.subject, envelope.headers, json.dumps(body).encode())
    assert "feedback.average_rating" in reason


def test_partner_catalogue_refuses_private_events() -> None:
    contact = fixture("yts.private.enrolment.school.contact.v1", "lyceum-134-kk")
    assert isinstance(contact, SchoolContact)
    envelope = wire(contact)
    assert from_nats(envelope.subject, envelope.headers, envelope.body).data == contact
    with pytest.raises(ContractViolation, match="unknown event type"):
        from_nats(envelope.subject, envelope.headers, envelope.body, CATALOG.public())


def test_tolerant_reader_accepts_and_ignores_unknown_fields() -> None:
    data = fixture("yts.sessions.session.completed.v1", "two-facilitators-kk-with-feedback")
    envelope = wire(data)
    body = json.loads(envelope.body)
    body["weather"] = "sunny"
    body["participants"]["teachers_present"] = 2
    received = from_nats(envelope.subject, envelope.headers, json.dumps(body).encode())
    assert received.data == data
    assert isinstance(received.data, SessionCompleted)
    assert "weather" not in received.data.model_dump()


def test_tolerant_reader_schema_also_accepts_unknown_fields() -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads(
        (CONTRACTS / "schemas" / "yts.enrolment.trainer.enrolled.v1.json").read_text()
    )
    payload = {**json.loads(wire().body), "preferred_module": "active-listening"}
    assert Draft202012Validator(schema).is_valid(payload)


def test_event_data_is_immutable() -> None:
    data = enrolled()
    with pytest.raises(ValueError, match="frozen"):
        data.grade = 11  # type: ignore[misc]
