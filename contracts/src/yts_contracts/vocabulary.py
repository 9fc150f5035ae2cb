"""Words the events share: grades, genders, districts, language codes, curriculum slugs.

Every value here is a category, never something that identifies a person: trainers are minors.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

T = TypeVar("T")

# The patterns below repeat what the formats require, for JSON Schema validators that treat
# "format" as a mere annotation (the default of most).
_HEX = "[0-9a-fA-F]"
UUID_PATTERN = f"^{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}$"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ].*([Zz]|[+-]\d{2}:\d{2})$"
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

Id = Annotated[UUID, Field(json_schema_extra={"pattern": UUID_PATTERN})]
"""An opaque identifier: a UUID, written as a string."""

Timestamp = Annotated[
    AwareDatetime,
    Field(json_schema_extra={"pattern": TIMESTAMP_PATTERN}),
]
"""A moment: RFC 3339 date-time with a time zone (Z or an offset)."""

_DAY_TEXT = re.compile(DAY_PATTERN, re.ASCII)  # ASCII digits only, as in JSON Schema


def day_text(value: object) -> object:
    """Only ``YYYY-MM-DD`` text (or a date, when built in code) reaches pydantic's date parsing,
    which on its own reads ``0`` and ``"0"`` as 1970-01-01 and a timestamp at midnight as its
    day: what the pattern of the JSON Schema refuses, the model refuses too."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY_TEXT.fullmatch(value):
        return value
    raise PydanticCustomError("iso_date", "must be a date written as YYYY-MM-DD")


Day = Annotated[date, BeforeValidator(day_text), Field(json_schema_extra={"pattern": DAY_PATTERN})]
"""A calendar day: ISO 8601 date, exactly YYYY-MM-DD (in events and in the APIs' input)."""

Grade = Literal[9, 10, 11]
"""School grade of a young trainer: only students of grades 9 to 11 are trained."""

LanguageCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z]{2}$",
        description="ISO 639-1 two-letter language code in lower case: kk (Kazakh), "
        "ru (Russian), en (English) or another language of the programme.",
        examples=["kk", "ru"],
    ),
]

ModuleSlug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{1,63}$",
        description="Stable slug of a curriculum module: lower-case letters, digits and hyphens, "
        "2 to 64 characters.",
        examples=["intercultural-dialogue-basics"],
    ),
]


class Gender(StrEnum):
    """Gender category of a trainer, as the trainer chose to state it."""

    FEMALE = "female"
    MALE = "male"
    UNDISCLOSED = "undisclosed"


class District(StrEnum):
    """The eight administrative districts of Almaty."""

    ALATAU = "Alatau"
    ALMALY = "Almaly"
    AUEZOV = "Auezov"
    BOSTANDYK = "Bostandyk"
    MEDEU = "Medeu"
    NAURYZBAY = "Nauryzbay"
    TURKSIB = "Turksib"
    ZHETYSU = "Zhetysu"


def distinct(items: list[T]) -> list[T]:
    """Reject a list that names the same item twice."""
    if len(set(items)) != len(items):
        raise ValueError("items must be distinct")
    return items


Languages = Annotated[
    list[LanguageCode],
    AfterValidator(distinct),
    Field(min_length=1, json_schema_extra={"uniqueItems": True}),
]
"""A non-empty list of distinct language codes."""


class EventPart(BaseModel):
    """A value inside an event's data; read as tolerantly as the event itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)
