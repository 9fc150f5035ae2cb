"""Privacy by design: no public event carries a field that could hold personal data, and every
event that does (adults' work contacts) lives on a stream partners cannot read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from yts_contracts import CATALOG, STREAMS, CohortOpened, SchoolRegistered, stream_for_subject

PERSONAL = re.compile(
    r"name|birth|email|e_mail|phone|guardian|address|contact|patronymic|iin", re.IGNORECASE
)
# Names of institutions and cohorts, not of people.
NOT_PERSONAL = {(SchoolRegistered.event_type, "name"), (CohortOpened.event_type, "name")}


def field_names(schema: dict[str, Any]) -> set[str]:
    """Every property name of the schema, nested objects included."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                names.update(properties)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    return names


def personal_fields(event_type: str) -> set[str]:
    schema = CATALOG[event_type].model.model_json_schema()
    return {
        name
        for name in field_names(schema)
        if PERSONAL.search(name) and (event_type, name) not in NOT_PERSONAL
    }


@pytest.mark.parametrize("event_type", sorted(CATALOG.public()))
def test_public_event_has_no_personal_data_field(event_type: str) -> None:
    assert personal_fields(event_type) == set()


def test_the_detector_finds_the_coordinators_contact() -> None:
    assert personal_fields("yts.private.enrolment.school.contact.v1") == {
        "coordinator_name",
        "email",
    }


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_event_with_personal_data_is_private(event_type: str) -> None:
    if personal_fields(event_type):
        spec = CATALOG[event_type]
        assert event_type.startswith("yts.private.")
        assert not spec.public


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_private_subjects_live_only_on_non_public_streams(event_type: str) -> None:
    spec = CATALOG[event_type]
    assert spec.public == (not event_type.startswith("yts.private."))
    assert stream_for_subject(event_type).name == spec.stream


def test_partner_catalogue_holds_no_private_event() -> None:
    public = CATALOG.public()
    assert "yts.private.enrolment.school.contact.v1" not in public
    assert all(spec.public for spec in public.values())
    assert len(public) == len(CATALOG) - 1


def test_no_public_stream_reaches_a_private_subject() -> None:
    for stream in STREAMS:
        if stream.public:
            assert not stream.holds("yts.private.enrolment.school.contact.v1")
            assert not stream.holds("yts.dlq.notifications.yts.sessions.session.completed.v1")
