"""The request and response bodies of the credentials API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from yts_contracts.credentials import Achievement, RevocationReason

from yts_credentials.verification import Outcome, Verdict, Verification


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential: Any = Field(
        json_schema_extra={"anyOf": [{"type": "string", "minLength": 1}, {"type": "object"}]},
        description="The credential: a VC-JWT (compact JWS text), or JSON: an "
        "EnvelopedVerifiableCredential whose id is data:application/vc+jwt,<the JWT>. A JSON "
        "credential without a VC-JWT cannot be verified (no proof): it is answered as tampered.",
        examples=["eyJ0eXAiOiJKV1QiLCJhbGciOiJFZERTQSIs..."],
    )

    @field_validator("credential")
    @classmethod
    def _text_or_object(cls, value: Any) -> str | dict[str, Any]:
        # One message for the field, not one per branch of a union.
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict):
            return value
        raise ValueError("must be a VC-JWT (non-empty text) or a JSON object")


class CheckOut(BaseModel):
    name: str = Field(description="signature, shape, validity or status")
    outcome: Outcome
    detail: str = ""


class VerificationOut(BaseModel):
    verdict: Verdict = Field(
        description="valid, revoked, tampered, unknown_issuer, expired or not_yet_valid"
    )
    checks: list[CheckOut]
    credential_id: str | None = Field(default=None, description="the credential's id (a URN)")
    achievement: str | None = None
    valid_from: str | None = None

    @classmethod
    def of(cls, verification: Verification) -> VerificationOut:
        credential = verification.credential or {}
        return cls(
            verdict=verification.verdict,
            checks=[CheckOut(**vars(check)) for check in verification.checks],
            credential_id=credential.get("id"),
            achievement=verification.achievement,
            valid_from=credential.get("validFrom"),
        )


class RevocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RevocationReason = Field(
        description="issued_in_error, misconduct or other (erased is for erasures)"
    )


class CredentialOut(BaseModel):
    credential_id: uuid.UUID
    milestone_id: uuid.UUID
    trainer_id: uuid.UUID | None = Field(description="null once the trainer was erased")
    school_id: uuid.UUID | None
    achievement: Achievement
    achieved_on: date
    issued_at: datetime
    status_index: int
    revoked_at: datetime | None
    revocation_reason: RevocationReason | None
    verification_url: str
