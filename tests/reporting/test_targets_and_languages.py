"""What a programme officer sees in the first hour, on a generated programme of 20 schools:

- a district's or a school's figures are compared with that district's or school's share of
  the programme's targets (or a configured one), and the page and the API say which;
- the dashboard's subtitle names the years or the period the figures cover;
- the workbook and the CSV speak the reader's language (kk, ru, en): sheet names, headers,
  districts and genders, with grades in order and no "schools participating" on a school's row;
- no raw catalogue key reaches a page or a workbook.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import httpx
import openpyxl
import pytest
from yts_chassis.auth import Role
from yts_reporting import i18n
from yts_reporting.exports import SESSION_COLUMNS
from yts_reporting.indicators import SchoolRow
from yts_reporting.settings import ProgrammeTargets, ReportingSettings
from yts_reporting.targets import TargetPlan

from tests.reporting.conftest import reporting_app
from tests.support.access import token_for
from tests.support.reporting_programme import (
    Programme,
    generate,
    serving,
)

PROGRAMME_SCHOOLS = 35  # the default schools_participating target the others are shared among
PER_SCHOOL = {
    "trainers_enrolled": math.ceil(350 / PROGRAMME_SCHOOLS),  # 10
    "trainers_certified": math.ceil(250 / PROGRAMME_SCHOOLS),  # 8
    "trainers_active": math.ceil(200 / PROGRAMME_SCHOOLS),  # 6
    "sessions_delivered": math.ceil(1500 / PROGRAMME_SCHOOLS),  # 43
    "peer_participations": math.ceil(10_000 / PROGRAMME_SCHOOLS),  # 286
}
MEDEU_SESSIONS = 300  # configured for this module's app
DASH = "\N{EN DASH}"  # between the ends of a range of years or days


@dataclass
class Site:
    programme: Programme
    client: httpx.AsyncClient
    coordinator: dict[str, str]


@pytest.fixture(scope="module")
async def site(own_nats: str, database_factory) -> AsyncIterator[Site]:
    programme = generate(schools=20, trainers_per_school=3, sessions=80, seed=11)
    token = await token_for(own_nats, Role.coordinator, programme.schools[3].id)
    app = reporting_app(
        own_nats,
        await database_factory("reporting_targets"),
        district_targets={"Medeu": {"sessions_delivered": MEDEU_SESSIONS}},
    )
    async with serving(app, own_nats, programme) as client:
        yield Site(programme, client, {"Authorization": f"Bearer {token}"})


def schools_in(p: Programme, district: str) -> int:
    return sum(1 for s in p.schools if s.district == district)


def targets_of(body: dict[str, Any]) -> dict[str, Any]:
    return {
        name: body[name]["target"]
        for name in (
            "schools_participating",
            *PER_SCHOOL,
            "trainers_withdrawn",
            "milestones_reached",
            "average_rating",
        )
    }


# -- targets ---------------------------------------------------------------------------------


async def test_a_districts_figures_are_compared_with_the_sum_of_its_schools_targets(
    site: Site,
) -> None:
    p = site.programme
    n = schools_in(p, "Bostandyk")
    assert n == 3
    body = (await site.client.get("/v1/indicators", params={"district": "Bostandyk"})).json()
    assert targets_of(body) == {
        "schools_participating": n,
        **{name: n * each for name, each in PER_SCHOOL.items()},  # sessions: 3 x 43 = 129
        "trainers_withdrawn": None,
        "milestones_reached": None,
        "average_rating": 4.0,  # a mean: the programme's target holds at every level
    }
    sessions = body["sessions_delivered"]
    assert sessions["value"] == p.expected(district="Bostandyk")["sessions_delivered"]
    assert sessions["share"] == round(sessions["value"] / 129, 4)
    assert body["targets"]["level"] == "district"
    assert body["targets"]["district"] == "Bostandyk"
    assert body["targets"]["schools"] == n
    assert body["targets"]["shared_among"] == PROGRAMME_SCHOOLS
    assert body["targets"]["configured"] == []
    assert body["targets"]["description"].startswith("Bostandyk district: each target is the sum")

    monthly = (
        await site.client.get("/v1/indicators/monthly", params={"district": "Bostandyk"})
    ).json()
    assert monthly["targets"]["level"] == "district"
    assert {m["sessions_delivered"]["target"] for m in monthly["months"]} == {129}


async def test_a_configured_district_target_replaces_the_sum(site: Site) -> None:
    n = schools_in(site.programme, "Medeu")
    body = (await site.client.get("/v1/indicators", params={"district": "Medeu"})).json()
    assert body["sessions_delivered"]["target"] == MEDEU_SESSIONS
    assert body["trainers_enrolled"]["target"] == n * PER_SCHOOL["trainers_enrolled"]
    assert body["targets"]["configured"] == ["sessions_delivered"]
    assert "Set in the configuration: Sessions delivered." in body["targets"]["description"]


async def test_a_schools_figures_are_compared_with_its_share_of_the_programmes_targets(
    site: Site,
) -> None:
    school = site.programme.schools[5]
    for path, params in (
        ("/v1/indicators", {"school_id": str(school.id)}),
        (f"/v1/schools/{school.id}/summary", {}),
    ):
        body = (await site.client.get(path, params=params)).json()
        values = body.get("indicators", body)
        assert targets_of(values) == {
            "schools_participating": None,  # one school: 0 or 1, nothing to aim at
            **PER_SCHOOL,
            "trainers_withdrawn": None,
            "milestones_reached": None,
            "average_rating": 4.0,
        }, path
        assert body["targets"]["level"] == "school", path
        assert body["targets"]["school_id"] == str(school.id), path

    # A coordinator always reads its own school: its school's targets.
    mine = (await site.client.get("/v1/indicators", headers=site.coordinator)).json()
    assert mine["targets"]["level"] == "school"
    assert mine["sessions_delivered"]["target"] == PER_SCHOOL["sessions_delivered"]


async def test_the_whole_programme_keeps_the_programmes_targets(site: Site) -> None:
    body = (await site.client.get("/v1/indicators", params={"grade": 10})).json()
    assert body["targets"]["level"] == "programme"
    assert body["sessions_delivered"]["target"] == 1500
    assert body["schools_participating"]["target"] == PROGRAMME_SCHOOLS


def test_school_and_district_targets_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Environment names arrive lower-cased: the district is matched whatever its case.
    monkeypatch.setenv("YTS_REPORTING_DISTRICT_TARGETS__BOSTANDYK__SESSIONS_DELIVERED", "300")
    monkeypatch.setenv("YTS_REPORTING_SCHOOL_TARGETS__TRAINERS_ENROLLED", "12")
    plan = TargetPlan.of(ReportingSettings())
    now = datetime.now(UTC)
    schools = [
        SchoolRow(uuid.uuid4(), f"No. {n}", district, now)
        for n, district in enumerate(["Bostandyk", "Bostandyk", "Medeu"])
    ]
    bostandyk = plan.for_district("Bostandyk", schools)
    assert bostandyk.of("sessions_delivered") == 300
    assert bostandyk.of("trainers_enrolled") == 2 * 12
    assert bostandyk.of("schools_participating") == 2
    assert bostandyk.configured == ("trainers_enrolled", "sessions_delivered")
    assert plan.for_school(schools[2].school_id, schools).of("trainers_enrolled") == 12

    # No programme-wide number of schools: the targets are shared among the schools known.
    unplanned = TargetPlan(ProgrammeTargets(schools_participating=0), plan.school, {})
    assert unplanned.for_school(schools[0].school_id, schools).of("sessions_delivered") == 500
    assert unplanned.for_district("Medeu", schools).of("schools_participating") is None
    assert unplanned.for_district("Alatau", schools).values == {
        "schools_participating": None,
        **dict.fromkeys(PER_SCHOOL, None),
        "trainers_withdrawn": None,
        "milestones_reached": None,
        "average_rating": None,
    }


# -- the dashboard ---------------------------------------------------------------------------


class Page(HTMLParser):
    """The text of every element with an id, and the whole page's text."""

    VOID = {"input", "meta", "link", "br", "img", "hr"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.open: list[tuple[str, str | None, list[str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append((tag, dict(attrs).get("id"), []))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            name, ident, parts = self.open.pop()
            text = " ".join(" ".join(parts).split())
            if ident:
                self.by_id[ident] = text
            if self.open:
                self.open[-1][2].append(text)
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.open:
            self.open[-1][2].append(data)

    def __getitem__(self, ident: str) -> str:
        return self.by_id[ident]

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


async def page(site: Site, **params: Any) -> Page:
    response = await site.client.get("/", params=params)
    assert response.status_code == 200, response.text
    return Page(response.text)


async def test_the_dashboard_says_which_targets_its_cards_compare_with(site: Site) -> None:
    p = site.programme
    whole = await page(site, lang="en")
    assert "Programme target 1,500 ·" in whole["card-sessions_delivered"]
    assert whole["targets-note"] == "Targets are the programme's, for all schools together."

    district = await page(site, lang="en", district="Bostandyk")
    assert "District target 129 ·" in district["card-sessions_delivered"]
    assert "District target 3 ·" in district["card-schools_participating"]
    assert district["targets-note"].startswith(
        "Bostandyk district: each target is the sum of its schools' targets (3 schools)"
    )
    ru = await page(site, lang="ru", district="Bostandyk")
    assert "Цель района 129 ·" in ru["card-sessions_delivered"]
    assert ru["targets-note"].startswith("Бостандыкский район: каждая цель — сумма целей")

    school = await page(site, lang="kk", school_id=str(p.schools[5].id))
    assert "Мектеп мақсаты 43 ·" in school["card-sessions_delivered"]
    assert "card-schools_participating" not in school.by_id
    assert school["targets-note"].startswith("Осы мектептің мақсаттары")


async def test_the_subtitle_names_the_years_or_the_period_shown(site: Site) -> None:
    second = next(c for c in site.programme.cohorts if c.name == "2024-2025")
    cases = [
        (
            {"lang": "ru", "cohort_id": str(second.id)},
            f"Показатели программы 2024{DASH}2025, собранные из событий платформы",
        ),
        ({"lang": "en"}, f"Programme indicators 2023{DASH}2025, built from the platform's events"),
        (
            {"lang": "ru", "from": "2024-09-01", "to": "2025-05-31"},
            f"Показатели программы 01.09.2024 {DASH} 31.05.2025, собранные из событий платформы",
        ),
        (
            {"lang": "kk", "from": "2024-09-01"},
            "01.09.2024 бастап бағдарлама көрсеткіштері, платформа оқиғаларынан жиналған",
        ),
        (
            {"lang": "en", "to": "2024-06-30"},
            "Programme indicators until 2024-06-30, built from the platform's events",
        ),
    ]
    for params, subtitle in cases:
        assert (await page(site, **params))["subtitle"] == subtitle, params


def catalogue(lang: str) -> dict[str, str]:
    found: dict[str, str] = json.loads((i18n.MESSAGES / f"{lang}.json").read_text(encoding="utf-8"))
    return found


DOTTED_KEY = re.compile(
    r"\b(?:indicator|hint|chart|gender|grade|district|table|target|targets_note|period|"
    r"sheet|column|xlsx|peers|about)\.[a-z_]+"
)


def assert_no_raw_key(text: str, where: str) -> None:
    keys = [k for k in catalogue("en") if "_" in k or "." in k]
    assert not DOTTED_KEY.search(text), (where, DOTTED_KEY.search(text))
    found = [k for k in keys if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", text)]
    assert found == [], (where, found)
    assert "{" not in text, (where, "an unfilled placeholder")
    assert "}" not in text, (where, "an unfilled placeholder")


async def test_every_language_has_every_message_and_no_page_shows_a_raw_key(site: Site) -> None:
    assert set(catalogue("kk")) == set(catalogue("en")) == set(catalogue("ru"))
    p = site.programme
    views: list[dict[str, str]] = [
        {},
        {"district": "Medeu"},
        {"school_id": str(p.schools[5].id)},
        {"from": "2024-09-01", "to": "2024-12-31"},
        {"from": "2030-01-01"},  # no data
    ]
    for lang in i18n.LANGUAGES:
        for view in views:
            shown = await page(site, lang=lang, **view)
            assert_no_raw_key(shown.all_text, f"{lang} {view}")


# -- the exports -----------------------------------------------------------------------------


async def workbook(site: Site, **params: str) -> openpyxl.Workbook:
    response = await site.client.get("/v1/exports/indicators.xlsx", params=params)
    assert response.status_code == 200, response.text
    return openpyxl.load_workbook(io.BytesIO(response.content))


def rows_of(book: openpyxl.Workbook, title: str) -> list[list[Any]]:
    return [list(row) for row in book[title].iter_rows(values_only=True)]


SHEETS = {
    "en": [
        "Indicators",
        "By district",
        "By school",
        "By grade",
        "By gender",
        "By month",
        "Peers",
        "About",
    ],
    "ru": [
        "Показатели",
        "По районам",
        "По школам",
        "По классам",
        "По полу",
        "По месяцам",
        "Сверстники",
        "О файле",  # noqa: RUF001 (Russian)
    ],
    "kk": [
        "Көрсеткіштер",
        "Аудандар бойынша",
        "Мектептер бойынша",
        "Сыныптар бойынша",
        "Жыныс бойынша",
        "Айлар бойынша",
        "Құрдастар",
        "Файл туралы",
    ],
}


async def test_the_workbook_is_in_the_readers_language(site: Site) -> None:
    p = site.programme
    for lang, sheets in SHEETS.items():
        book = await workbook(site, lang=lang)
        assert book.sheetnames == sheets, lang
        t = i18n.Messages(lang)
        districts = rows_of(book, sheets[1])
        assert districts[0][:3] == [
            t("district"),
            t("indicator.schools_participating"),
            t("indicator.trainers_enrolled"),
        ]
        bostandyk = next(r for r in districts if r[0] == t.district("Bostandyk"))
        expected = p.expected(district="Bostandyk")
        assert bostandyk[1:3] == [expected["schools_participating"], expected["trainers_enrolled"]]
        genders = [r[0] for r in rows_of(book, sheets[4])[1:]]
        assert genders == [t("gender.female"), t("gender.male"), t("gender.undisclosed")]
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                assert_no_raw_key(" ".join(str(v) for v in row if v is not None), sheet.title)

    ru = await workbook(site, lang="ru", district="Bostandyk")
    summary = {r[0]: r[1:] for r in rows_of(ru, "Показатели") if r and r[0]}
    assert summary["Период с"][0] == "начала программы"  # noqa: RUF001 (Russian)
    assert summary["Район"][0] == "Бостандыкский"
    assert summary["Цели"][0].startswith("Бостандыкский район: каждая цель")
    assert summary["Проведено сессий"][:2] == [
        p.expected(district="Bostandyk")["sessions_delivered"],
        129,
    ]
    # Without ?lang=, the browser's language; the dashboard's links carry its own.
    by_header = await site.client.get(
        "/v1/exports/indicators.xlsx", headers={"Accept-Language": "kk-KZ,kk;q=0.9"}
    )
    book = openpyxl.load_workbook(io.BytesIO(by_header.content))
    assert book.sheetnames == SHEETS["kk"]
    dashboard = await site.client.get("/", params={"lang": "ru", "district": "Medeu"})
    assert "/v1/exports/indicators.xlsx?district=Medeu&amp;lang=ru" in dashboard.text
    assert "/v1/exports/sessions.csv?district=Medeu&amp;lang=ru" in dashboard.text


async def test_grades_come_in_order_and_a_schools_row_has_no_schools_participating(
    site: Site,
) -> None:
    for lang in i18n.LANGUAGES:
        t = i18n.Messages(lang)
        book = await workbook(site, lang=lang)
        grades = rows_of(book, SHEETS[lang][3])
        assert [r[0] for r in grades[1:]] == [9, 10, 11], lang
        schools = rows_of(book, SHEETS[lang][2])
        assert schools[0][:4] == [
            t("column.school"),
            t("district"),
            t("column.school_id"),
            t("indicator.trainers_enrolled"),
        ], lang
        assert t("indicator.schools_participating") not in schools[0], lang
        assert t("indicator.schools_participating") in rows_of(book, SHEETS[lang][1])[0], lang

    machine = await workbook(site, columns="keys", lang="ru")
    assert machine.sheetnames[:3] == ["indicators", "by_district", "by_school"]
    header = rows_of(machine, "by_school")[0]
    assert header[:4] == ["school", "district", "school_id", "trainers_enrolled"]
    assert "schools_participating" not in header
    assert [r[0] for r in rows_of(machine, "by_grade")[1:]] == [9, 10, 11]


async def test_the_sessions_csv_has_headers_in_the_readers_language_or_machine_names(
    site: Site,
) -> None:
    def read(response: httpx.Response) -> list[list[str]]:
        assert response.status_code == 200, response.text
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))

    kk = read(
        await site.client.get(
            "/v1/exports/sessions.csv", params={"lang": "kk", "district": "Almaly"}
        )
    )
    assert kk[0][:5] == ["Сессия ID", "Өткізілген күні", "Мектеп ID", "Мектеп", "Аудан"]
    assert "Қатысушылар: 10-сынып" in kk[0]
    assert {r[4] for r in kk[1:]} == {"Алмалы"}
    ru = read(await site.client.get("/v1/exports/sessions.csv", params={"lang": "ru"}))
    assert ru[0][9:13] == [
        "Участники",
        "Участники: девушки",
        "Участники: юноши",
        "Участники: пол не указан",
    ]
    for lang in i18n.LANGUAGES:
        rows = read(await site.client.get("/v1/exports/sessions.csv", params={"lang": lang}))
        assert_no_raw_key(" ".join(rows[0]), f"csv {lang}")

    keys = read(
        await site.client.get(
            "/v1/exports/sessions.csv",
            params={"columns": "keys", "lang": "kk", "district": "Almaly"},
        )
    )
    assert keys[0] == list(SESSION_COLUMNS)
    assert {r[4] for r in keys[1:]} == {"Almaly"}


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/v1/exports/indicators.xlsx", {"lang": "fr"}, "query.lang"),
        ("/v1/exports/sessions.csv", {"lang": "english"}, "query.lang"),
        ("/v1/exports/sessions.csv", {"columns": "ids"}, "query.columns"),
    ],
)
async def test_an_unknown_language_or_column_style_is_a_problem(
    site: Site, path: str, query: dict[str, str], field: str
) -> None:
    response = await site.client.get(path, params=query)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["field"] == field
