"""Payloads that break the contract are refused by the models and, where JSON Schema can state
the rule, by the checked-in schemas as well.

Each file in invalid/ says why it is invalid and whether JSON Schema can express the rule
(sums across fields, date order and the milestone id derivation cannot be).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from yts_contracts import CATALOG

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
INVALID_FILES = sorted((Path(__file__).parent / "invalid").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert set(case) == {"type", "why", "json_schema_rejects", "data"}, path.name
    return case


def test_there_are_invalid_examples_for_the_rules_that_matter() -> None:
    names = {path.stem for path in INVALID_FILES}
    for required in (
        "trainer-grade-8",
        "session-female-male-over-total",
        "session-four-facilitators",
        "session-rating-6",
    ):
        assert required in names


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda p: p.stem)
def test_invalid_payload_is_rejected_by_the_model(path: Path) -> None:
    case = load(path)
    with pytest.raises(ValidationError):
        CATALOG[case["type"]].model.model_validate(case["data"])


@pytest.mark.parametrize(
    "path",
    [p for p in INVALID_FILES if load(p)["json_schema_rejects"]],
    ids=lambda p: p.stem,
)
def test_invalid_payload_is_rejected_by_the_checked_in_schema(path: Path) -> None:
    case = load(path)
    schema = json.loads((CONTRACTS / "schemas" / f"{case['type']}.json").read_text())
    # No format checker: the schema must refuse these even where "format" is only an annotation.
    assert not Draft202012Validator(schema).is_valid(case["data"]), case["why"]
