"""Privacy by design: no public event carries a field that could hold personal data, and every
event that does (adults' work contacts) lives on a stream partners cannot read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
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


# Free text is where a name slips in whatever the field is called: a sentence naming a minor,
# in Latin and in Cyrillic script, must fit no string a public event carries.
SENTENCES_NAMING_A_MINOR = ("Aruzhan Abenova was ill", "Аружан Абенова заболела")
# A school's name is an institution's, public and registered by programme staff.
FREE_TEXT_ALLOWED = {(SchoolRegistered.event_type, "name")}


def string_slots(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every place of the schema where an instance puts a string: (field, its schema), through
    properties, array items, anyOf and $ref. The keys of a map (an object without declared
    properties) are strings too. Unknown fields of an event or of its parts are not walked:
    readers ignore them (tolerant reader), so no consumer ever reads what they hold. Nor are
    if/then/else and allOf: they only narrow what the properties already allow."""
    defs = schema.get("$defs", {})

    def walk(node: dict[str, Any], field: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if "$ref" in node:
            yield from walk(defs[node["$ref"].rsplit("/", 1)[-1]], field)
            return
        for option in node.get("anyOf", ()):
            yield from walk(option, field)
        if node.get("type") == "string":
            yield field, {**node, "$defs": defs}
        for name, child in node.get("properties", {}).items():
            yield from walk(child, name)
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], field)
        if node.get("type") == "object" and "properties" not in node:
            for pattern in node.get("patternProperties", {}):
                yield f"{field} (keys)", {"type": "string", "pattern": pattern}
            if node.get("additionalProperties", True) is not False:
                yield f"{field} (keys)", node.get("propertyNames", {"type": "string"})

    yield from walk(schema, "")


def free_text_fields(event_type: str) -> set[str]:
    """The fields of an event where a sentence naming a minor would be valid."""
    schema = CATALOG[event_type].model.model_json_schema()
    found = set()
    for field, slot in string_slots(schema):
        validator = Draft202012Validator(slot, format_checker=Draft202012Validator.FORMAT_CHECKER)
        if any(validator.is_valid(sentence) for sentence in SENTENCES_NAMING_A_MINOR):
            found.add(field)
    return {field for field in found if (event_type, field) not in FREE_TEXT_ALLOWED}


@pytest.mark.parametrize("event_type", sorted(CATALOG.public()))
def test_no_public_event_has_a_free_text_field_that_could_carry_a_name(event_type: str) -> None:
    assert free_text_fields(event_type) == set()


def test_the_free_text_detector_finds_the_coordinators_name() -> None:
    assert "coordinator_name" in free_text_fields("yts.private.enrolment.school.contact.v1")
