"""Reporting's read models (projections), built only from events."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from yts_chassis.tables import define_messaging_tables


class ReportingTable(SQLModel, registry=registry()):
    pass


class SchoolView(ReportingTable, table=True):
    __tablename__ = "school_view"

    school_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    district: str = Field(max_length=40, index=True)
    registered_at: datetime


class CohortView(ReportingTable, table=True):
    __tablename__ = "cohort_view"

    cohort_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=20)
    starts_on: date
    ends_on: date


class TrainerView(ReportingTable, table=True):
    """A trainer as categories only: no names ever reach reporting."""

    __tablename__ = "trainer_view"

    trainer_id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    cohort_id: uuid.UUID = Field(index=True)
    grade: int
    gender: str = Field(max_length=12)
    status: str = Field(max_length=12, index=True)
    enrolled_at: datetime
    withdrawn_at: datetime | None = None
    erased: bool = False


metadata = ReportingTable.metadata
messaging = define_messaging_tables(metadata)
