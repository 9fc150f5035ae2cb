"""Enrolment's read side: lists and lookups for the HTTP routes (no effects, no events)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import col
from yts_chassis.database import Database
from yts_chassis.paging import Slice, page

from yts_enrolment.domain import District, TrainerStatus
from yts_enrolment.store import Cohort, School, Trainer, TrainerCredential


async def schools(
    db: Database, *, district: District | None, limit: int, offset: int
) -> Slice[School]:
    query = select(School)
    if district is not None:
        query = query.where(col(School.district) == district.value)
    async with db.snapshot() as session:
        return await page(session, query, [col(School.name)], limit, offset)


async def school(db: Database, school_id: uuid.UUID) -> School | None:
    async with db.session() as session:
        return await session.get(School, school_id)


async def cohorts(db: Database) -> list[Cohort]:
    async with db.session() as session:
        rows = await session.execute(select(Cohort).order_by(col(Cohort.starts_on)))
        return list(rows.scalars())


async def trainers(
    db: Database,
    *,
    school_id: uuid.UUID | None,
    cohort_id: uuid.UUID | None,
    status: TrainerStatus | None,
    limit: int,
    offset: int,
) -> Slice[Trainer]:
    query = select(Trainer)
    if school_id is not None:
        query = query.where(col(Trainer.school_id) == school_id)
    if cohort_id is not None:
        query = query.where(col(Trainer.cohort_id) == cohort_id)
    if status is not None:
        query = query.where(col(Trainer.status) == status.value)
    order = [col(Trainer.enrolled_at), col(Trainer.id)]
    async with db.snapshot() as session:
        return await page(session, query, order, limit, offset)


async def trainer(db: Database, trainer_id: uuid.UUID) -> Trainer | None:
    async with db.session() as session:
        return await session.get(Trainer, trainer_id)


async def trainer_credentials(db: Database, trainer_id: uuid.UUID) -> list[TrainerCredential]:
    async with db.session() as session:
        rows = await session.scalars(
            select(TrainerCredential)
            .where(col(TrainerCredential.trainer_id) == trainer_id)
            .order_by(col(TrainerCredential.issued_on), col(TrainerCredential.credential_id))
        )
        return list(rows)


async def trainer_credential(
    db: Database, trainer_id: uuid.UUID, credential_id: uuid.UUID
) -> TrainerCredential | None:
    async with db.session() as session:
        credential = await session.get(TrainerCredential, credential_id)
    return credential if credential is not None and credential.trainer_id == trainer_id else None
