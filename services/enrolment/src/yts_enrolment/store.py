"""Enrolment's tables (its own database). Trainers' personal data lives only here."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from yts_chassis.tables import define_messaging_tables


class EnrolmentTable(SQLModel, registry=registry()):
    pass


class School(EnrolmentTable, table=True):
    __tablename__ = "schools"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200, index=True, unique=True)
    district: str = Field(max_length=40, index=True)
    languages: list[str] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True
    coordinator_name: str = Field(max_length=200)
    coordinator_email: str = Field(max_length=254)
    coordinator_locale: str = Field(max_length=2)
    registered_at: datetime


class Cohort(EnrolmentTable, table=True):
    __tablename__ = "cohorts"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=9, unique=True)
    starts_on: date
    ends_on: date
    open_for_enrolment: bool = True
    opened_at: datetime


class Trainer(EnrolmentTable, table=True):
    """A young trainer. Names, consent and notes are personal data of a minor: they never leave
    this service and are removed on erasure, leaving an anonymous tombstone."""

    __tablename__ = "trainers"
    __table_args__ = (
        # No second active enrolment of one person in one cohort.
        Index(
            "uq_trainers_active_person_in_cohort",
            "cohort_id",
            "person_key",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID = Field(foreign_key="schools.id", index=True)
    cohort_id: uuid.UUID = Field(foreign_key="cohorts.id", index=True)
    grade: int
    gender: str = Field(max_length=12)
    languages: list[str] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=12, index=True)
    enrolled_at: datetime  # when the enrolment was recorded
    enrolled_on: date  # the day it took effect (a paper record is entered later)
    withdrawn_at: datetime | None = None
    withdrawn_on: date | None = None
    withdrawal_reason: str | None = Field(default=None, max_length=20)
    erased_at: datetime | None = None
    # Personal data (NULL after erasure).
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    guardian_name: str | None = Field(default=None, max_length=200)
    guardian_consent_on: date | None = None
    notes: str | None = Field(default=None, max_length=2000)
    person_key: str | None = Field(default=None, max_length=64)


class TrainerCredential(EnrolmentTable, table=True):
    """A verifiable credential the credentials service issued to a trainer (from
    ``credential.issued``), for the printable certificate; erasure deletes it."""

    __tablename__ = "trainer_credentials"

    credential_id: uuid.UUID = Field(primary_key=True)
    trainer_id: uuid.UUID = Field(foreign_key="trainers.id", index=True)
    achievement: str = Field(max_length=40)
    issued_on: date
    verification_url: str = Field(max_length=500)
    revoked_at: datetime | None = None


metadata = EnrolmentTable.metadata
messaging = define_messaging_tables(metadata)
