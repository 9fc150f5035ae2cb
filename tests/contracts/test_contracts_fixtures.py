"""Compatibility: every example payload ever checked in stays valid, by model and by schema.

Fixtures under contracts/fixtures/<type>/ are never edited to make a change pass: if one stops
validating, the change is incompatible and belongs in a new ``.v2`` type.

The one exception, decided on purpose (issue 11): session.cancelled.v1 narrowed ``reason`` from
a sentence to a code, because a sentence can name a minor. The payloads with sentences moved to
``fixtures/yts.sessions.session.cancelled.v1/legacy/``, unedited: the model still reads them
(as ``other``) and test_contracts_cancellation_reason.py proves it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from yts_contracts import CATALOG

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
FIXTURE_FILES = sorted((CONTRACTS / "fixtures").glob("*/*.json"))


def schema_validator(event_type: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / "schemas" / f"{event_type}.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_is_valid_under_its_model_and_checked_in_schema(path: Path) -> None:
    event_type = path.parent.name
    spec = CATALOG.get(event_type)
    assert spec is not None, f"fixture folder {event_type} names no catalogued event"
    payload = load(path)
    spec.model.model_validate(payload)
    errors = [error.message for error in schema_validator(event_type).iter_errors(payload)]
    assert not errors, errors


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_survives_a_serialisation_round_trip(path: Path) -> None:
    model = CATALOG[path.parent.name].model
    data = model.model_validate(load(path))
    assert model.model_validate_json(data.model_dump_json()) == data


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_every_catalogued_event_has_at_least_two_fixtures(event_type: str) -> None:
    assert len(list((CONTRACTS / "fixtures" / event_type).glob("*.json"))) >= 2
