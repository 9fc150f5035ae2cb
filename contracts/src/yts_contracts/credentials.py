"""Credential events: a young trainer was awarded (or lost) a verifiable credential.

Published by the credentials service on ``yts.credentials.>`` (stream ``YTS_CREDENTIALS``). A
credential is an Open Badges 3.0 ``OpenBadgeCredential`` the service signed for a trainer's
milestone (certification, facilitation). These events carry no name and no personal data: the
trainer is an opaque ``trainer_id``; the printable certificate with the trainer's name is put
together by enrolment, where names live, from ``credential.issued``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from yts_contracts.event import EventData
from yts_contracts.milestones import MilestoneKind
from yts_contracts.streams import CREDENTIALS_STREAM
from yts_contracts.vocabulary import Day, Id, Timestamp


class Achievement(StrEnum):
    """What a credential recognises: a trainer's milestone kind without its ``trainer.``
    prefix (certified: every core module done; first_session, sessions.5: peer sessions
    facilitated; peers.100: peer participations in the trainer's sessions)."""

    CERTIFIED = "certified"
    FIRST_SESSION = "first_session"
    SESSIONS_5 = "sessions.5"
    PEERS_100 = "peers.100"

    @classmethod
    def of_milestone(cls, kind: MilestoneKind | str) -> Achievement | None:
        """The achievement a milestone kind earns, or None for a kind that earns no
        credential (school and programme milestones)."""
        prefix, _, rest = MilestoneKind(kind).value.partition(".")
        return cls(rest) if prefix == "trainer" else None

    @property
    def milestone_kind(self) -> MilestoneKind:
        return MilestoneKind(f"trainer.{self.value}")


class RevocationReason(StrEnum):
    """Why a credential was revoked; a category, never free text."""

    ERASED = "erased"
    ISSUED_IN_ERROR = "issued_in_error"
    MISCONDUCT = "misconduct"
    OTHER = "other"


PublicUrl = Annotated[
    str,
    Field(
        pattern=r"^https?://[^\s/?#]+[^\s]*$",
        max_length=500,
        description="An absolute http(s) URL anyone can open.",
    ),
]


class CredentialIssued(EventData):
    event_type: ClassVar[str] = "yts.credentials.credential.issued.v1"
    stream: ClassVar[str] = CREDENTIALS_STREAM
    description: ClassVar[str] = (
        "The programme has issued a verifiable credential (an Open Badges 3.0 "
        "OpenBadgeCredential, signed as a VC-JWT) to a young trainer for a milestone: "
        "certification or a facilitation milestone. Published once per milestone by the "
        "credentials service. No name travels here: enrolment, which holds names, prints the "
        "certificate from this event, and anyone can check the credential at verification_url."
    )

    credential_id: Id = Field(description="Opaque id of the credential, also its urn:uuid id.")
    trainer_id: Id = Field(description="Opaque id of the trainer the credential was issued to.")
    school_id: Id | None = Field(
        default=None,
        description="The trainer's school when the credential was issued, if the credentials "
        "service knew it; null otherwise.",
    )
    achievement: Achievement = Field(
        description="What the credential recognises: certified, first_session, sessions.5 or "
        "peers.100 (the trainer milestone kind without its trainer. prefix).",
    )
    milestone_id: Id = Field(description="The milestone (milestone.reached) that earned it.")
    issued_on: Day = Field(
        description="The day the achievement was reached (ISO 8601 date, programme time "
        "zone): the date printed on the certificate.",
    )
    issued_at: Timestamp = Field(
        description="When the credential was signed (RFC 3339, with time zone).",
    )
    verification_url: PublicUrl = Field(
        description="Public page showing whether the credential is valid (the QR code on the "
        "printed certificate points here).",
    )

    def ce_subject(self) -> str:
        return str(self.credential_id)


class CredentialRevoked(EventData):
    event_type: ClassVar[str] = "yts.credentials.credential.revoked.v1"
    stream: ClassVar[str] = CREDENTIALS_STREAM
    description: ClassVar[str] = (
        "A credential has been revoked: the trainer's personal data was erased, or programme "
        "staff revoked it. Its bit in the issuer's status list is set, so every verifier sees "
        "it as revoked from now on."
    )

    credential_id: Id = Field(description="The credential revoked.")
    trainer_id: Id = Field(description="The trainer it had been issued to.")
    reason: RevocationReason = Field(
        description="Category: erased, issued_in_error, misconduct or other.",
    )
    revoked_at: Timestamp = Field(description="When it was revoked (RFC 3339, with time zone).")

    def ce_subject(self) -> str:
        return str(self.credential_id)
