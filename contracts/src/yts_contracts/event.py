"""What every event's ``data`` is: the base model of the catalogue's events, and the URN of
its JSON Schema. The wire format (CloudEvents over NATS) is ``envelope``; the catalogue of
types is ``catalog``; both build on this module, which builds on neither."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

SCHEMA_URN_PREFIX = "urn:yts:schema:"


def _describe_event(schema: dict[str, Any], model: type[Any]) -> None:
    # The JSON Schema of an event says what fact it states, in the programme's words.
    description = getattr(model, "description", "")
    if isinstance(description, str) and description:
        schema["description"] = description


class EventData(BaseModel):
    """Base of every event's ``data``.

    Consumers are tolerant readers: unknown fields are ignored, so adding an optional field
    is a compatible change. Subclasses set ``event_type`` (also the NATS subject), ``stream``
    and ``description`` (which becomes the description of the event's JSON Schema).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_extra=_describe_event)

    event_type: ClassVar[str]
    stream: ClassVar[str]
    description: ClassVar[str] = ""

    def ce_subject(self) -> str | None:
        """The CloudEvents ``subject``: the id of the thing the event is about."""
        return None

    @classmethod
    def dataschema(cls) -> str:
        return schema_uri(cls.event_type)


def schema_uri(event_type: str) -> str:
    return f"{SCHEMA_URN_PREFIX}{event_type}"
