"""The dashboard at ``GET /``: server-rendered HTML with inline SVG charts and one stylesheet
served by the service itself (no CDN, no script), in Kazakh, Russian or English.

Signing in: a browser has no way to send a bearer header on a plain link, so the page offers a
sign-in form; the token goes once in a POST body and comes back as an HttpOnly, SameSite=Strict
cookie (Secure over https). Links and the filter form are plain GETs the cookie authorises; the
token never appears in a URL, a server log or a Referer header. Scripts and tools may still
send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from yts_chassis.auth import Principal, Role
from yts_chassis.database import Database
from yts_contracts.vocabulary import District, Gender

from yts_reporting import queries
from yts_reporting.access import COOKIE, FormFilters, browser_principal, identify, scoped
from yts_reporting.charts import Series, bar_chart
from yts_reporting.filters import Filters
from yts_reporting.i18n import LANGUAGES, Messages, choose
from yts_reporting.indicators import MEASURES, Totals
from yts_reporting.schemas import indicator_values
from yts_reporting.settings import ReportingSettings
from yts_reporting.targets import AppliedTargets, TargetPlan, describe

TEMPLATES = Path(__file__).parent / "templates"
ASSETS = Path(__file__).parent / "assets"
COOKIE_MAX_AGE = 8 * 3600
GENDERS = [g.value for g in Gender]

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Deps:
    db: Database
    settings: ReportingSettings


def _query(filters: Filters, lang: str) -> dict[str, str]:
    """The GET parameters that reproduce these filters (for links and downloads)."""
    pairs = {
        "from": filters.start.isoformat() if filters.start else None,
        "to": filters.end.isoformat() if filters.end else None,
        "district": filters.district,
        "school_id": str(filters.school_id) if filters.school_id else None,
        "cohort_id": str(filters.cohort_id) if filters.cohort_id else None,
        "grade": str(filters.grade) if filters.grade else None,
        "gender": filters.gender,
        "lang": lang,
    }
    return {k: v for k, v in pairs.items() if v}


def _login_page(lang: str, *, error: bool, status: int) -> HTMLResponse:
    t = Messages(lang)
    page = environment.get_template("login.html").render(
        t=t, lang=lang, languages=LANGUAGES, error=error, subtitle=t("subtitle_plain")
    )
    return HTMLResponse(page, status_code=status)


def _subtitle(filters: Filters, overview: queries.Overview, t: Messages) -> str:
    """What the figures cover: the filter's period, else the years of the cohorts shown (the
    chosen one, or all), else of the months holding facts; nothing when there is no data."""
    if filters.start is not None and filters.end is not None:
        period = t("period.between", start=t.day(filters.start), end=t.day(filters.end))
    elif filters.start is not None:
        period = t("period.since", start=t.day(filters.start))
    elif filters.end is not None:
        period = t("period.until", end=t.day(filters.end))
    else:
        cohorts = [c for c in overview.cohorts if filters.cohort_id in (None, c.cohort_id)]
        years = [y for c in cohorts for y in (c.starts_on.year, c.ends_on.year)] or [
            int(month[:4]) for month, _ in overview.months
        ]
        if not years:
            return t("subtitle_plain")
        first, last = min(years), max(years)
        period = str(first) if first == last else t("period.years", start=first, end=last)
    return t("subtitle", period=period)


def _cards(overall: Totals, targets: AppliedTargets, t: Messages) -> list[dict[str, Any]]:
    values = indicator_values(overall, targets)
    cards = []
    for name in MEASURES:
        if name == "schools_participating" and targets.level == "school":
            continue  # one school's view: it is that school, 0 or 1
        indicator = values[name]
        rating = name == "average_rating"
        value = getattr(indicator, "value", None)
        share = getattr(indicator, "share", None)
        cards.append(
            {
                "name": name,
                "label": t(f"indicator.{name}"),
                "hint": t(f"hint.{name}"),
                "value": t.number(value, 2 if rating else 0),
                "target": t.number(indicator.target, 1 if rating else 0)  # type: ignore[attr-defined]
                if indicator.target  # type: ignore[attr-defined]
                else None,
                "share": share,
                "share_text": t.percent(share),
                "bar": min(100.0, (share or 0) * 100),
                "responses": getattr(indicator, "responses", None),
            }
        )
    return cards


def _charts(overview: queries.Overview, t: Messages) -> dict[str, Any]:
    months = [m for m, _ in overview.months]
    grades = sorted({g for g, _ in overview.trainers_grid} | {9, 10, 11})
    return {
        "sessions": bar_chart(
            months,
            [
                Series(
                    t("indicator.sessions_delivered"),
                    [x.sessions_delivered for _, x in overview.months],
                    "s-sessions",
                )
            ],
            title=t("chart.sessions"),
            chart_id="chart-sessions",
        ),
        "participations": bar_chart(
            months,
            [
                Series(
                    t("indicator.peer_participations"),
                    [x.peer_participations for _, x in overview.months],
                    "s-participations",
                )
            ],
            title=t("chart.participations"),
            chart_id="chart-participations",
        ),
        "trainers": bar_chart(
            [t("grade_n", n=g) for g in grades],
            [
                Series(
                    t(f"gender.{gender}"),
                    [overview.trainers_grid.get((g, gender), 0) for g in grades],
                    f"s-{gender}",
                )
                for gender in GENDERS
            ],
            title=t("chart.trainers"),
            chart_id="chart-trainers",
        ),
        "peers": bar_chart(
            [t("grade_n", n=g) for g in sorted(overview.overall.peers_by_grade)],
            [
                Series(
                    t("indicator.peer_participations"),
                    [n for _, n in sorted(overview.overall.peers_by_grade.items())],
                    "s-peers",
                )
            ],
            title=t("chart.peers"),
            chart_id="chart-peers",
        ),
    }


def _table(overview: queries.Overview, t: Messages) -> list[dict[str, Any]]:
    """District rows, each followed by its schools' rows."""
    rows: list[dict[str, Any]] = []
    schools_by_district: dict[str | None, list[queries.BreakdownRow]] = {}
    for school in overview.by_school:
        schools_by_district.setdefault(school.district, []).append(school)
    for district in overview.by_district:
        rows.append({"kind": "district", "label": t.district(district.key), "x": district.totals})
        for school in schools_by_district.pop(district.key, []):
            rows.append({"kind": "school", "label": school.label, "x": school.totals})
    for leftover in schools_by_district.values():  # schools not yet known to reporting
        for school in leftover:
            rows.append({"kind": "school", "label": school.label, "x": school.totals})
    return rows


def build_router(deps: Deps) -> APIRouter:
    router = APIRouter(tags=["dashboard"])

    @router.get(
        "/",
        response_class=HTMLResponse,
        summary="Dashboard (HTML): indicators, charts, table, filters; kk / ru / en",
        responses={401: {"description": "not signed in: the sign-in form"}},
    )
    async def dashboard(
        request: Request, requested: FormFilters, lang: str | None = None
    ) -> Response:
        language = choose(lang, request.headers.get("accept-language"))
        principal = browser_principal(request)
        if principal is None:
            return _login_page(language, error=False, status=401)
        filters = scoped(principal, requested)
        t = Messages(language)
        overview = await queries.overview(deps.db, filters, TargetPlan.of(deps.settings))
        query = _query(filters, language)
        page = environment.get_template("dashboard.html").render(
            t=t,
            lang=language,
            languages=LANGUAGES,
            principal=principal,
            coordinator=principal.role is Role.coordinator,
            filters=filters,
            query=query,
            language_links={code: "?" + urlencode({**query, "lang": code}) for code in LANGUAGES},
            downloads=urlencode(query),
            subtitle=_subtitle(filters, overview, t),
            targets_level=overview.targets.level,
            targets_note=describe(overview.targets, t),
            cards=_cards(overview.overall, overview.targets, t),
            charts=_charts(overview, t),
            table=_table(overview, t),
            overall=overview.overall,
            has_data=bool(overview.months or overview.by_school),
            districts=[d.value for d in District],
            schools=[s for s in overview.schools if _visible(principal, s.school_id)],
            cohorts=overview.cohorts,
            genders=GENDERS,
        )
        return HTMLResponse(page)

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        language = choose(form.get("lang", [""])[0], None)
        if not token or identify(request, token) is None:
            return _login_page(language, error=True, status=401)
        response = RedirectResponse(f"/?lang={language}", status_code=303)
        secure = deps.settings.dashboard_cookie_secure
        response.set_cookie(
            COOKIE,
            token,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https" if secure is None else secure,
            path="/",
        )
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        language = choose(request.query_params.get("lang"), None)
        response = RedirectResponse(f"/?lang={language}", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router


def _visible(principal: Principal, school_id: Any) -> bool:
    return principal.role is not Role.coordinator or principal.school_id == school_id
