"""A whole generated programme (35 schools in Almaty's 8 districts, 350 trainers, 2,000 peer
sessions, their milestones, withdrawals, erasures and cancellations) published as contract
events to a nats-server of this module, projected by the real reporting app, and every
indicator and breakdown checked against the generator's own counts: through the JSON API, the
XLSX workbook and the CSV export; again after duplicated and redelivered events; again after a
rebuild from the streams, during which the API keeps answering."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import nats
import openpyxl
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext
from yts_chassis.database import Database
from yts_deploy.provision import provision
from yts_reporting import generations
from yts_reporting.replay import Silent, rebuild

from tests.reporting.conftest import reporting_app, reporting_settings
from tests.support.reporting_programme import (
    MEASURES,
    REPORTING_DURABLES,
    Programme,
    consumers_caught_up,
    generate,
    publish,
    slice_of,
)
from tests.support.services import eventually, running

pytestmark = pytest.mark.timeout(240)


@dataclass
class System:
    programme: Programme
    nats_url: str
    database_url: str
    nc: NatsClient
    js: JetStreamContext
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    client: httpx.AsyncClient = field(init=False)

    async def start_app(self) -> None:
        app = reporting_app(self.nats_url, self.database_url)
        self.client = await self.stack.enter_async_context(running(app))

    async def stop_app(self) -> None:
        await self.stack.aclose()
        self.stack = contextlib.AsyncExitStack()

    async def caught_up(self, timeout: float = 120.0) -> None:
        await eventually(lambda: consumers_caught_up(self.js), timeout=timeout, interval=0.2)


@pytest.fixture(scope="module")
async def system(own_nats: str, database_factory) -> AsyncIterator[System]:
    programme = generate()
    nc = await nats.connect(own_nats)
    js = nc.jetstream()
    found = System(programme, own_nats, await database_factory("reporting_programme"), nc, js)
    await found.start_app()
    started = time.perf_counter()
    # Other streams first: sessions and milestones of schools and trainers not known yet.
    await publish(js, programme.milestone_events)
    await publish(js, programme.session_events)
    await publish(js, programme.enrolment_events)
    published = time.perf_counter()
    await found.caught_up()
    done = time.perf_counter()
    print(
        f"\n{len(programme.events)} events published in {published - started:.1f} s and "
        f"projected live in {done - started:.1f} s "
        f"({len(programme.events) / (done - started):.0f} events/s)"
    )
    try:
        yield found
    finally:
        await found.stop_app()
        await nc.close()


def params(**filters: Any) -> dict[str, str]:
    names = {"start": "from", "end": "to", "school": "school_id", "cohort": "cohort_id"}
    return {names.get(k, k): str(v) for k, v in filters.items() if v is not None}


def assert_indicators(body: dict[str, Any], expected: dict[str, Any], label: str) -> None:
    assert {m: body[m]["value"] for m in MEASURES} == {m: expected[m] for m in MEASURES}, label
    rating = body["average_rating"]
    assert rating["responses"] == expected["feedback_responses"], label
    if expected["average_rating"] is None:
        assert rating["value"] is None, label
    else:  # both sides round a weighted mean to 2 decimals
        assert rating["value"] == pytest.approx(expected["average_rating"], abs=0.01), label
    assert body["peer_participations_by_category"] == {
        "female": expected["peers_female"],
        "male": expected["peers_male"],
        "unstated": expected["peers_unstated"],
        "by_grade": expected["peers_by_grade"],
    }, label


def filter_cases(p: Programme) -> list[dict[str, Any]]:
    return [
        {},
        {"district": "Bostandyk"},
        {"district": "Nauryzbay", "start": date(2024, 9, 1)},
        {"school": p.schools[3].id},
        {"cohort": p.cohorts[1].id},
        {"grade": 10},
        {"gender": "female"},
        {"gender": "undisclosed", "cohort": p.cohorts[0].id},
        {"start": date(2024, 1, 1), "end": date(2024, 6, 30)},
        {"district": "Medeu", "gender": "male", "start": date(2024, 9, 1)},
        {"start": date(2023, 9, 30), "end": date(2023, 10, 1)},  # enrolments across midnight
    ]


async def test_every_indicator_matches_the_generated_programme(system: System) -> None:
    p = system.programme
    for case in filter_cases(p):
        response = await system.client.get("/v1/indicators", params=params(**case))
        assert response.status_code == 200, response.text
        assert_indicators(response.json(), p.expected(**case), f"filters {case}")


async def test_every_indicator_carries_its_target_and_the_share_achieved(system: System) -> None:
    body = (await system.client.get("/v1/indicators")).json()
    expected = system.programme.expected()
    assert body["schools_participating"] == {"value": 35, "target": 35, "share": 1.0}
    assert body["trainers_enrolled"] == {"value": 350, "target": 350, "share": 1.0}
    assert body["sessions_delivered"]["target"] == 1500
    assert body["sessions_delivered"]["share"] == round(expected["sessions_delivered"] / 1500, 4)
    assert body["peer_participations"]["target"] == 10_000
    assert body["trainers_certified"]["target"] == 250
    assert body["average_rating"]["target"] == 4.0
    assert body["average_rating"]["share"] == pytest.approx(
        body["average_rating"]["value"] / 4.0, abs=1e-4
    )
    assert body["trainers_withdrawn"]["target"] is None
    assert body["trainers_withdrawn"]["share"] is None
    assert body["period"] == {"from": None, "to": None}
    assert body["targets"]["level"] == "programme"
    assert body["targets"]["description"] == (
        "Targets are the programme's, for all schools together."
    )


async def test_peer_participations_are_documented_as_participations_not_people(
    system: System,
) -> None:
    schema = (await system.client.get("/openapi.json")).json()
    fields = schema["components"]["schemas"]["Indicators"]["properties"]
    description = fields["peer_participations"]["description"]
    assert "participations" in description
    assert "not distinct people" in description


async def test_monthly_indicators_match_month_by_month(system: System) -> None:
    p = system.programme
    cases: list[dict[str, Any]] = [{}, {"district": "Turksib", "grade": 11}]
    for case in cases:
        body = (await system.client.get("/v1/indicators/monthly", params=params(**case))).json()
        months = [m["month"] for m in body["months"]]
        if not case:
            assert months == p.months()
        for month in body["months"]:
            first, last = p.month_bounds(month["month"])
            expected = p.expected(**{**case, "start": first, "end": last})
            assert_indicators(month, expected, f"{month['month']} {case}")


async def test_one_schools_summary_matches_its_facts(system: System) -> None:
    p = system.programme
    for school in (p.schools[0], p.schools[17], p.schools[34]):
        response = await system.client.get(f"/v1/schools/{school.id}/summary")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["school"]["name"] == school.name
        assert body["school"]["district"] == school.district
        assert_indicators(body["indicators"], p.expected(school=school.id), school.name)
        grid = {
            (r["grade"], r["gender"]): r["trainers"] for r in body["trainers_by_grade_and_gender"]
        }
        assert sum(grid.values()) == len([t for t in p.trainers if t.school == school.id])


def sheet_rows(book: openpyxl.Workbook, title: str) -> list[dict[str, Any]]:
    rows = list(book[title].iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def assert_sheet_row(
    row: dict[str, Any], expected: dict[str, Any], label: str, measures: tuple[str, ...] = MEASURES
) -> None:
    assert {m: row[m] for m in measures} == {m: expected[m] for m in measures}, label
    assert row["feedback_responses"] == expected["feedback_responses"], label
    assert row["average_rating"] == pytest.approx(expected["average_rating"], abs=0.01), label


async def test_the_workbook_has_a_sheet_per_breakdown_matching_the_programme(
    system: System,
) -> None:
    """Read as a script reads it (machine names); test_targets_and_languages reads the
    words people see."""
    p = system.programme
    response = await system.client.get("/v1/exports/indicators.xlsx", params={"columns": "keys"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "indicators",
        "by_district",
        "by_school",
        "by_grade",
        "by_gender",
        "by_month",
        "peers",
        "about",
    ]
    summary = {
        row[0]: row[1] for row in book["indicators"].iter_rows(values_only=True) if row and row[0]
    }
    overall = p.expected()
    assert {m: summary[m] for m in MEASURES} == {m: overall[m] for m in MEASURES}

    districts = sheet_rows(book, "by_district")
    assert sorted(r["district"] for r in districts) == sorted({s.district for s in p.schools})
    for row in districts:
        assert_sheet_row(row, p.expected(district=row["district"]), row["district"])
    schools = sheet_rows(book, "by_school")
    assert len(schools) == 35
    per_school = tuple(m for m in MEASURES if m != "schools_participating")
    for row in schools:
        school = next(s for s in p.schools if str(s.id) == row["school_id"])
        assert (row["school"], row["district"]) == (school.name, school.district)
        assert "schools_participating" not in row, "one school's row: always 1"
        assert_sheet_row(row, p.expected(school=school.id), school.name, per_school)
    grades = sheet_rows(book, "by_grade")
    assert [r["trainers_grade"] for r in grades] == [9, 10, 11]
    for row in grades:
        assert_sheet_row(row, p.expected(grade=row["trainers_grade"]), f"grade {row}")
    genders = sheet_rows(book, "by_gender")
    assert [r["trainers_gender"] for r in genders] == ["female", "male", "undisclosed"]
    for row in genders:
        assert_sheet_row(row, p.expected(gender=row["trainers_gender"]), row["trainers_gender"])
    months = sheet_rows(book, "by_month")
    assert [r["month"] for r in months] == p.months()
    for row in months:
        first, last = p.month_bounds(row["month"])
        assert_sheet_row(row, p.expected(start=first, end=last), row["month"])
    peers = {r["category"]: r["peer_participations"] for r in sheet_rows(book, "peers")}
    assert peers["total"] == overall["peer_participations"]
    assert peers["female"] == overall["peers_female"]
    assert peers["male"] == overall["peers_male"]
    assert peers["unstated"] == overall["peers_unstated"]
    for grade, count in overall["peers_by_grade"].items():
        assert peers[f"grade_{grade}"] == count


async def test_the_sessions_csv_has_one_row_per_delivered_session_and_no_trainer(
    system: System,
) -> None:
    p = system.programme
    response = await system.client.get(
        "/v1/exports/sessions.csv", params={"district": "Almaly", "columns": "keys"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = p.expected(district="Almaly")
    assert len(rows) == expected["sessions_delivered"]
    assert sum(int(r["participants"]) for r in rows) == expected["peer_participations"]
    assert {r["district"] for r in rows} == {"Almaly"}
    delivered = {str(s.id) for s in p.sessions if s.delivered}
    assert {r["session_id"] for r in rows} <= delivered
    trainer_ids = {str(t.id) for t in p.trainers} | {t.id.hex for t in p.trainers}
    assert not any(ident in text for ident in trainer_ids), "a trainer id reached the export"
    assert all(int(r["facilitators"]) in (1, 2, 3) for r in rows)


async def snapshot_of(client: httpx.AsyncClient, p: Programme) -> list[Any]:
    bodies = []
    for case in filter_cases(p)[:6]:
        body = (await client.get("/v1/indicators", params=params(**case))).json()
        bodies.append(body)
    bodies.append((await client.get("/v1/indicators/monthly")).json())
    return bodies


async def test_duplicated_and_redelivered_events_change_nothing(system: System) -> None:
    p = system.programme
    before = await snapshot_of(system.client, p)
    # The same events under a new Nats-Msg-Id: stored again, recognised by ce-id (inbox).
    again = slice_of(p.enrolment_events, 5) + slice_of(p.session_events, 7)
    again += slice_of(p.milestone_events, 3)
    await publish(system.js, again, msg_id_suffix="-again")
    # The same facts re-published as new events (new ce-id): natural keys absorb them.
    renamed = [(data, str(_fresh_id(index))) for index, (data, _) in enumerate(again[::2])]
    await publish(system.js, renamed)
    await system.caught_up()
    assert await snapshot_of(system.client, p) == before

    # Real redeliveries: with the service stopped, take some messages from its consumers and
    # nak them, so the server delivers them again (already applied: the inbox drops them).
    await system.stop_app()
    await publish(system.js, slice_of(p.session_events, 13), msg_id_suffix="-redelivered")
    redelivered = 0
    for durable in REPORTING_DURABLES:
        subscription = await system.js.pull_subscribe_bind(durable.durable, durable.stream)
        with contextlib.suppress(TimeoutError):
            for msg in await subscription.fetch(batch=200, timeout=1.0):
                await msg.nak()
                redelivered += 1
        await subscription.unsubscribe()
    assert redelivered > 0
    # And a consumer reset (deleted, provisioned anew): the whole history comes again.
    await system.js.delete_consumer(REPORTING_DURABLES[0].stream, REPORTING_DURABLES[0].durable)
    assert (await provision(system.js)).ok
    await system.start_app()
    await system.caught_up()
    assert await snapshot_of(system.client, p) == before
    for case in filter_cases(p):
        body = (await system.client.get("/v1/indicators", params=params(**case))).json()
        assert_indicators(body, p.expected(**case), f"after duplicates {case}")


def _fresh_id(index: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"yts-reporting-test-renamed-{index}")


async def test_a_rebuild_gives_the_same_numbers_and_the_api_answers_meanwhile(
    system: System,
) -> None:
    p = system.programme
    before = await snapshot_of(system.client, p)
    db = Database(system.database_url)
    async with db.session() as session:
        generation_before = await generations.served(session)

    class Recorder(Silent):
        total = 0
        done = 0

        def start(self, total: int) -> None:
            self.total = total

        def advance(self, events: int) -> None:
            self.done += events

    recorder = Recorder()
    settings = reporting_settings(system.nats_url, system.database_url)
    task = asyncio.create_task(rebuild(settings, progress=recorder, retire_after=0.2))
    answers = 0
    while not task.done():
        response = await system.client.get("/v1/indicators")
        assert response.status_code == 200, response.text
        assert_indicators(response.json(), p.expected(), "during the rebuild")
        answers += 1
        await asyncio.sleep(0.05)
    report = await task
    print(
        f"\nrebuild: {report.events} events in {report.seconds:.2f} s "
        f"({report.events_per_second:,.0f} events/s); API answered {answers} times meanwhile"
    )
    assert answers >= 1
    assert report.events >= len(p.events)
    assert recorder.done == report.events
    assert recorder.total >= report.events
    async with db.session() as session:
        assert await generations.served(session) == generation_before + 1
    await db.dispose()
    assert await snapshot_of(system.client, p) == before
    for case in filter_cases(p):
        body = (await system.client.get("/v1/indicators", params=params(**case))).json()
        assert_indicators(body, p.expected(**case), f"after the rebuild {case}")
