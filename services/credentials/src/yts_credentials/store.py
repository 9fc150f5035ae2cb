"""The credentials service's tables (its own database): the credentials it issued and, per
trainer, the school and whether they were erased (from enrolment's events).

No names and no personal data: a trainer is an opaque id. Erasure revokes the trainer's
credentials and clears what links them to the trainer (the id, the salt, the signed token);
what stays is what the revocation needs (the credential's id, its achievement and day, its
status index, when and why it was revoked)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from yts_chassis.tables import define_messaging_tables


class CredentialsTable(SQLModel, registry=registry()):
    pass


class IssuedCredential(CredentialsTable, table=True):
    """One credential per milestone (``milestone_id`` is unique: a replayed or repeated
    milestone issues nothing twice), with its own index in the revocation status list."""

    __tablename__ = "credentials"

    credential_id: uuid.UUID = Field(primary_key=True)
    milestone_id: uuid.UUID = Field(unique=True)
    trainer_id: uuid.UUID | None = Field(default=None, index=True)
    school_id: uuid.UUID | None = None
    achievement: str = Field(max_length=40)
    achieved_on: date
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status_index: int = Field(unique=True)
    salt: str | None = Field(default=None, max_length=64)
    token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    revocation_reason: str | None = Field(default=None, max_length=40)


class KnownTrainer(CredentialsTable, table=True):
    """A trainer as enrolment told us: their school (for ``credential.issued``), and whether
    they were erased (no credential is issued after that)."""

    __tablename__ = "trainers"

    trainer_id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID | None = None
    erased_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


metadata = CredentialsTable.metadata
messaging = define_messaging_tables(metadata)
