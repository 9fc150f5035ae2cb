"""Reporting's HTTP routes: parse, authorise, query the read models."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlmodel import col
from yts_chassis.auth import Principal, Role, require_roles
from yts_chassis.database import Database

from yts_reporting.store import SchoolView, TrainerView

Reader = Annotated[Principal, Depends(require_roles(Role.admin, Role.partner, Role.coordinator))]


class Indicators(BaseModel):
    schools_participating: int = Field(description="schools registered in the programme")
    trainers_enrolled: int = Field(description="distinct trainers ever enrolled (persons)")
    trainers_active: int = Field(description="enrolled and not withdrawn")
    trainers_withdrawn: int


def build_router(db: Database) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["indicators"])

    @router.get("/indicators", summary="Programme indicators")
    async def indicators(principal: Reader) -> Indicators:
        school_filter = principal.school_id if principal.role is Role.coordinator else None
        async with db.session() as session:
            schools_q = select(func.count()).select_from(SchoolView)
            trainers_q = select(col(TrainerView.status), func.count()).group_by(
                col(TrainerView.status)
            )
            if school_filter is not None:
                schools_q = schools_q.where(col(SchoolView.school_id) == school_filter)
                trainers_q = trainers_q.where(col(TrainerView.school_id) == school_filter)
            schools = (await session.execute(schools_q)).scalar_one()
            by_status = dict((await session.execute(trainers_q)).tuples().all())
        return Indicators(
            schools_participating=schools,
            trainers_enrolled=sum(by_status.values()),
            trainers_active=by_status.get("active", 0),
            trainers_withdrawn=by_status.get("withdrawn", 0),
        )

    return router
