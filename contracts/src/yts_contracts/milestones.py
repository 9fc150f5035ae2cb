"""Milestone events: a trainer, a school or the whole programme reached a milestone.

Published by the sessions service on ``yts.milestones.>`` (stream ``YTS_MILESTONES``). Each
milestone is reached once: its id is derived from its kind and subject, so a repeat carries the
same ``milestone_id`` and consumers can drop it.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    NonNegativeInt,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from yts_contracts.event import EventData
from yts_contracts.streams import MILESTONES_STREAM
from yts_contracts.vocabulary import EventPart, Id, Timestamp

# Fixed forever: changing it would change every milestone_id ever published.
MILESTONE_NAMESPACE = uuid.UUID("9f398a43-3f96-4fca-b0b3-e029d6c64269")


class SubjectType(StrEnum):
    """What a milestone is about."""

    TRAINER = "trainer"
    SCHOOL = "school"
    PROGRAMME = "programme"


class MilestoneKind(StrEnum):
    """Which milestone was reached. The first token names the subject type.

    trainer.certified: every core curriculum module completed;
    trainer.first_session / trainer.sessions.5: first / fifth peer session facilitated;
    trainer.peers.100: 100 peer participations in sessions the trainer facilitated;
    school.first_session / school.sessions.20: first / twentieth peer session of the school;
    programme.peers.1000 / 5000 / 10000: peer participations across the whole programme.
    """

    TRAINER_CERTIFIED = "trainer.certified"
    TRAINER_FIRST_SESSION = "trainer.first_session"
    TRAINER_SESSIONS_5 = "trainer.sessions.5"
    TRAINER_PEERS_100 = "trainer.peers.100"
    SCHOOL_FIRST_SESSION = "school.first_session"
    SCHOOL_SESSIONS_20 = "school.sessions.20"
    PROGRAMME_PEERS_1000 = "programme.peers.1000"
    PROGRAMME_PEERS_5000 = "programme.peers.5000"
    PROGRAMME_PEERS_10000 = "programme.peers.10000"

    @property
    def subject_type(self) -> SubjectType:
        return SubjectType(self.value.split(".", 1)[0])


def milestone_id(
    kind: MilestoneKind | str,
    subject_type: SubjectType | str,
    subject_id: uuid.UUID | str | None,
) -> uuid.UUID:
    """The id of a milestone, the same every time for the same kind and subject.

    A UUIDv5 over ``MILESTONE_NAMESPACE`` and ``<kind>|<subject type>|<subject id>``, where the
    subject id is the canonical lower-case UUID, or empty for the programme.
    Raises ValueError when the kind does not belong to the subject type or the id is missing
    (trainer, school) or present (programme).
    """
    kind = MilestoneKind(kind)
    subject_type = SubjectType(subject_type)
    if kind.subject_type is not subject_type:
        raise ValueError(f"milestone kind {kind.value!r} is not about a {subject_type.value}")
    if subject_type is SubjectType.PROGRAMME:
        if subject_id is not None:
            raise ValueError("a programme milestone has no subject id")
        ident = ""
    else:
        if subject_id is None:
            raise ValueError(
                f"a {subject_type.value} milestone needs the {subject_type.value}'s id"
            )
        ident = str(uuid.UUID(str(subject_id)))
    return uuid.uuid5(MILESTONE_NAMESPACE, f"{kind.value}|{subject_type.value}|{ident}")


class MilestoneSubject(EventPart):
    """Who or what reached the milestone: a trainer or a school by id, or the whole programme
    (id null)."""

    # The same rule as the validator below, in JSON Schema terms.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"type": {"const": "programme"}}, "required": ["type"]},
            "then": {"properties": {"id": {"type": "null"}}},
            "else": {"properties": {"id": {"type": "string"}}},
        }
    )

    type: SubjectType = Field(description="trainer, school or programme.")
    id: Id | None = Field(
        description="trainer_id or school_id of the subject; null for the programme.",
    )

    @model_validator(mode="after")
    def _id_matches_type(self) -> Self:
        if self.type is SubjectType.PROGRAMME and self.id is not None:
            raise ValueError("a programme subject has no id")
        if self.type is not SubjectType.PROGRAMME and self.id is None:
            raise ValueError(f"a {self.type.value} subject needs an id")
        return self


EvidenceName = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Name of a count, in snake_case."),
]


class MilestoneReached(EventData):
    event_type: ClassVar[str] = "yts.milestones.milestone.reached.v1"
    stream: ClassVar[str] = MILESTONES_STREAM
    description: ClassVar[str] = (
        "A trainer, a school or the whole programme has reached one of the programme's "
        "milestones, such as a trainer's certification, a school's twentieth peer session or "
        "10,000 peer participations. Published by the sessions service as soon as the event "
        "that crossed the threshold is processed; each milestone is reached once, and its "
        "milestone_id is derived from kind and subject, so a repeat is recognisable."
    )

    milestone_id: Id = Field(
        description="Deterministic id: UUIDv5 of kind and subject (see the contracts package's "
        "milestone_id function).",
    )
    kind: MilestoneKind = Field(
        description="Which milestone; its first token is the subject's type.",
    )
    subject: MilestoneSubject = Field(description="Who or what reached the milestone.")
    reached_at: Timestamp = Field(
        description="When the milestone was reached (RFC 3339, with time zone): the start of "
        "the day (programme time zone, Asia/Almaty) of the fact that crossed the threshold -- "
        "the module completed, the session delivered -- or the moment it was recorded when "
        "that fact happened that same day.",
    )
    evidence: dict[EvidenceName, NonNegativeInt] = Field(
        min_length=1,
        description="The counts that show the milestone was reached, by name, "
        'e.g. {"sessions_delivered": 20} or {"peer_participations": 1000}.',
        json_schema_extra={"additionalProperties": False},
    )
    caused_by: Id = Field(
        description="CloudEvents id (ce-id) of the event that crossed the threshold.",
    )

    @model_validator(mode="after")
    def _kind_subject_and_id_agree(self) -> Self:
        if self.kind.subject_type is not self.subject.type:
            raise ValueError(
                f"kind {self.kind.value!r} is about a {self.kind.subject_type.value}, "
                f"but subject.type is {self.subject.type.value!r}"
            )
        expected = milestone_id(self.kind, self.subject.type, self.subject.id)
        if self.milestone_id != expected:
            raise ValueError(
                f"milestone_id {self.milestone_id} is not derived from kind and subject "
                f"(expected {expected})"
            )
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target: dict[str, Any] = handler.resolve_ref_schema(schema)
        # The kind/subject rule in JSON Schema terms (the milestone_id derivation is not
        # expressible there: the package checks it).
        target["allOf"] = [
            {
                "if": {
                    "properties": {
                        "subject": {
                            "properties": {"type": {"const": kind_of.value}},
                            "required": ["type"],
                        }
                    },
                    "required": ["subject"],
                },
                "then": {
                    "properties": {
                        "kind": {
                            "enum": [k.value for k in MilestoneKind if k.subject_type is kind_of]
                        }
                    }
                },
            }
            for kind_of in SubjectType
        ]
        return schema

    def ce_subject(self) -> str:
        return str(self.milestone_id)
