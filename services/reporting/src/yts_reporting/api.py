"""Reporting's HTTP API: parse, authorise, ask the read side; nothing else."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from yts_chassis.database import Database
from yts_chassis.errors import Problem

from yts_reporting import exports, queries
from yts_reporting.access import Reader, Requested, scoped
from yts_reporting.i18n import Messages, choose
from yts_reporting.schemas import Indicators, MonthlyIndicators, SchoolSummary
from yts_reporting.targets import TargetPlan

PROBLEMS = {
    401: {"description": "no or unknown bearer token"},
    403: {"description": "a coordinator asked for another school"},
    422: {"description": "bad filter: the problem names the field and the rule"},
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _export_wording(
    request: Request,
    lang: Annotated[
        Literal["kk", "ru", "en"] | None,
        Query(
            description="language of sheet names, column headers and categories (districts, "
            "genders); default: the Accept-Language header, else English"
        ),
    ] = None,
    columns: Annotated[
        exports.Columns,
        Query(
            description="labels: headers a person reads, in `lang`; keys: stable machine names "
            "(snake_case headers, district and gender codes) for scripts, whatever `lang`"
        ),
    ] = "labels",
) -> exports.Wording:
    language = choose(lang, request.headers.get("accept-language"))
    return exports.Wording(Messages(language), keys=columns == "keys")


ExportWording = Annotated[exports.Wording, Depends(_export_wording)]


@dataclass(frozen=True)
class Deps:
    db: Database
    plan: TargetPlan


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def build_router(deps: Deps) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=PROBLEMS)  # type: ignore[arg-type]

    @router.get("/indicators", tags=["indicators"], summary="Programme indicators")
    async def indicators(principal: Reader, requested: Requested) -> Indicators:
        """Every indicator for the period and filters, with the target that applies and the
        share achieved: the programme's; with a district filter, the district's; with a school
        filter (and for coordinators, always), the school's. `targets` says which, and how it
        was made. Coordinators get their own school's."""
        return await queries.indicators(deps.db, scoped(principal, requested), deps.plan)

    @router.get("/indicators/monthly", tags=["indicators"], summary="Programme indicators by month")
    async def monthly(principal: Reader, requested: Requested) -> MonthlyIndicators:
        return await queries.monthly(deps.db, scoped(principal, requested), deps.plan)

    @router.get(
        "/schools/{school_id}/summary",
        tags=["indicators"],
        summary="One school's indicators",
        responses={404: {"description": "no such school (or not known to reporting yet)"}},
    )
    async def school_summary(
        school_id: uuid.UUID, principal: Reader, requested: Requested
    ) -> SchoolSummary:
        # A coordinator asking for another school gets a 403 here.
        filters = scoped(principal, requested.narrowed(school_id=school_id))
        try:
            return await queries.school_summary(deps.db, school_id, filters, deps.plan)
        except queries.SchoolNotKnown as unknown:
            raise Problem.not_found("school", unknown.school_id) from unknown

    @router.get(
        "/exports/sessions.csv",
        tags=["exports"],
        summary="Delivered sessions as CSV (one row per session, no personal data); headers "
        "in kk, ru or en (`lang`), or machine names (`columns=keys`)",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def sessions_csv(
        principal: Reader, requested: Requested, words: ExportWording
    ) -> Response:
        rows = await exports.session_rows(deps.db, scoped(principal, requested))
        return Response(
            exports.sessions_csv(rows, words),
            media_type="text/csv; charset=utf-8",
            headers=_attachment(f"yts-sessions-{date.today().isoformat()}.csv"),
        )

    @router.get(
        "/exports/indicators.xlsx",
        tags=["exports"],
        summary="Indicators as an XLSX workbook: a sheet per district, school, grade, gender "
        "and month breakdown, in kk, ru or en (`lang`)",
        response_class=Response,
        responses={200: {"content": {XLSX: {}}}},
    )
    async def indicators_xlsx(
        principal: Reader, requested: Requested, words: ExportWording
    ) -> Response:
        filters = scoped(principal, requested)
        overview = await queries.overview(deps.db, filters, deps.plan, all_breakdowns=True)
        return Response(
            exports.indicators_xlsx(overview, filters, words),
            media_type=XLSX,
            headers=_attachment(f"yts-indicators-{date.today().isoformat()}.xlsx"),
        )

    return router
