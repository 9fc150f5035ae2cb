"""The catalogue of events: CloudEvents type (also the NATS subject) -> model -> stream.

Consumers decode with ``from_nats(..., catalog=CATALOG)``; a partner-facing reader can pass
``CATALOG.public()`` so that anything outside the public streams is refused.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from yts_contracts.credentials import CredentialIssued, CredentialRevoked
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
)
from yts_contracts.event import EventData
from yts_contracts.milestones import MilestoneReached
from yts_contracts.private import SchoolContact
from yts_contracts.sessions import ModuleCompleted, SessionCancelled, SessionCompleted
from yts_contracts.streams import StreamSpec, stream_for_subject, stream_named


@dataclass(frozen=True, slots=True)
class EventSpec:
    type: str
    model: builtins.type[EventData]
    stream: str
    description: str

    @classmethod
    def of(cls, model: builtins.type[EventData]) -> EventSpec:
        return cls(model.event_type, model, model.stream, model.description)

    @property
    def stream_spec(self) -> StreamSpec:
        return stream_named(self.stream)

    @property
    def public(self) -> bool:
        """Whether partners may read this event (it lives on a public stream)."""
        return self.stream_spec.public


class Catalog(Mapping[str, EventSpec]):
    """An ordered, read-only mapping of event type to its spec.

    Building one checks that every type is unique and lives on the stream that stores its
    subject, so a model can never claim a stream its subject does not reach.
    """

    def __init__(self, specs: Iterable[EventSpec] = ()) -> None:
        by_type: dict[str, EventSpec] = {}
        for spec in specs:
            if spec.type in by_type:
                raise ValueError(f"event type {spec.type!r} is catalogued twice")
            storing = stream_for_subject(spec.type).name
            if storing != spec.stream:
                raise ValueError(
                    f"{spec.type} claims stream {spec.stream} but its subject is stored in "
                    f"{storing}"
                )
            by_type[spec.type] = spec
        self._by_type = by_type

    @classmethod
    def of(cls, *models: type[EventData]) -> Catalog:
        return cls([EventSpec.of(model) for model in models])

    def __getitem__(self, event_type: str) -> EventSpec:
        return self._by_type[event_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_type)

    def __len__(self) -> int:
        return len(self._by_type)

    def __repr__(self) -> str:
        return f"Catalog({list(self._by_type)!r})"

    def specs(self) -> tuple[EventSpec, ...]:
        return tuple(self._by_type.values())

    def public(self) -> Catalog:
        """The events partners may read: those on public streams."""
        return Catalog([spec for spec in self.specs() if spec.public])

    def by_stream(self, name: str) -> Catalog:
        """The events stored in the stream called ``name``."""
        return Catalog([spec for spec in self.specs() if spec.stream == name])


CATALOG = Catalog.of(
    SchoolRegistered,
    CohortOpened,
    TrainerEnrolled,
    TrainerWithdrawn,
    TrainerErased,
    SchoolContact,
    ModuleCompleted,
    SessionCompleted,
    SessionCancelled,
    MilestoneReached,
    CredentialIssued,
    CredentialRevoked,
)
