"""The rules that keep reporting's numbers right whatever the delivery does: facts of a school
or trainer not known yet are kept (streams are read independently), a cancelled session never
counts whichever event comes first, erasure keeps the counts, live events reach a generation
being rebuilt, one rebuild at a time, ``yts reporting rebuild`` on the command line, and the
previous release's read models carried over by the migration."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest
import sqlalchemy as sa
from nats.js.client import JetStreamContext
from sqlalchemy import select
from sqlmodel import col
from yts_chassis.database import Database
from yts_chassis.migrations import upgrade_async
from yts_contracts.enrolment import (
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
)
from yts_contracts.envelope import to_nats
from yts_contracts.event import EventData
from yts_contracts.milestones import (
    MilestoneKind,
    MilestoneReached,
    MilestoneSubject,
    SubjectType,
    milestone_id,
)
from yts_contracts.sessions import (
    CancellationReason,
    Feedback,
    Participants,
    SessionCancelled,
    SessionCompleted,
)
from yts_contracts.vocabulary import District, Gender
from yts_reporting.filters import Filters
from yts_reporting.generations import RebuildRefused, claim, release
from yts_reporting.indicators import snapshot
from yts_reporting.main import MIGRATIONS
from yts_reporting.store import ProjectedSchool

from tests.reporting.conftest import reporting_app
from tests.support.reporting_programme import consumers_caught_up, publish
from tests.support.services import eventually, running

NOW = datetime(2024, 10, 7, 9, 30, tzinfo=UTC)


@dataclass
class Live:
    client: httpx.AsyncClient
    js: JetStreamContext
    nats_url: str
    database_url: str

    async def publish(self, *events: EventData) -> None:
        await publish(self.js, [(e, str(uuid.uuid4())) for e in events])
        await eventually(lambda: consumers_caught_up(self.js), timeout=30)

    async def indicators(self, **query: Any) -> dict[str, Any]:
        response = await self.client.get("/v1/indicators", params=query)
        assert response.status_code == 200, response.text
        return {
            k: v["value"]
            for k, v in response.json().items()
            if isinstance(v, dict) and "value" in v
        }


@pytest.fixture(scope="module")
async def live(own_nats: str, database_factory) -> AsyncIterator[Live]:
    url = await database_factory("reporting_rules")
    nc = await nats.connect(own_nats)
    try:
        async with running(reporting_app(own_nats, url)) as client:
            yield Live(client, nc.jetstream(), own_nats, url)
    finally:
        await nc.close()


def school(district: str = "Almaly") -> SchoolRegistered:
    return SchoolRegistered(
        school_id=uuid.uuid4(),
        name=f"Gymnasium No. {uuid.uuid4().int % 200}",
        district=District(district),
        languages=["kk", "ru"],
        registered_at=NOW,
    )


def trainer(school_id: uuid.UUID, grade: int = 10, gender: str = "female") -> TrainerEnrolled:
    return TrainerEnrolled(
        trainer_id=uuid.uuid4(),
        school_id=school_id,
        cohort_id=uuid.uuid4(),
        grade=grade,
        gender=Gender(gender),
        languages=["kk"],
        enrolled_at=NOW,
    )


def session(
    school_id: uuid.UUID, facilitators: list[uuid.UUID], total: int = 20
) -> SessionCompleted:
    return SessionCompleted(
        session_id=uuid.uuid4(),
        school_id=school_id,
        facilitator_ids=facilitators,
        topic_module_id="intercultural-communication",
        language="kk",
        delivered_on=date(2024, 10, 10),
        duration_minutes=60,
        participants=Participants(total=total, female=5, male=5, by_grade={"8": 6, "9": 4}),
        feedback=Feedback(responses=10, average_rating=4.5),
    )


def cancelled(s: SessionCompleted) -> SessionCancelled:
    return SessionCancelled(
        session_id=s.session_id,
        school_id=s.school_id,
        reason=CancellationReason.SCHOOL_CLOSURE,
        cancelled_at=NOW,
    )


async def test_a_session_seen_before_its_school_counts_and_joins_its_district_later(
    live: Live,
) -> None:
    registered = school("Zhetysu")
    enrolled = trainer(registered.school_id, grade=11)
    delivered = session(registered.school_id, [enrolled.trainer_id], total=17)
    await live.publish(delivered)  # the school and the trainer are not known yet

    found = await live.indicators(school_id=str(registered.school_id))
    assert found["sessions_delivered"] == 1
    assert found["peer_participations"] == 17
    assert found["trainers_active"] == 1
    assert found["schools_participating"] == 1
    in_district = await live.indicators(district="Zhetysu", school_id=str(registered.school_id))
    assert in_district["sessions_delivered"] == 0  # its district is not known yet

    await live.publish(registered, enrolled)
    in_district = await live.indicators(district="Zhetysu", school_id=str(registered.school_id))
    assert in_district["sessions_delivered"] == 1
    assert in_district["trainers_enrolled"] == 1
    by_grade = await live.indicators(school_id=str(registered.school_id), grade=11)
    assert by_grade["sessions_delivered"] == 1


async def test_a_cancelled_session_never_counts_whichever_event_comes_first(live: Live) -> None:
    registered = school()
    enrolled = trainer(registered.school_id)
    completed_then_cancelled = session(registered.school_id, [enrolled.trainer_id], total=11)
    cancelled_then_completed = session(registered.school_id, [enrolled.trainer_id], total=13)
    kept = session(registered.school_id, [enrolled.trainer_id], total=19)
    await live.publish(
        registered,
        enrolled,
        completed_then_cancelled,
        cancelled(completed_then_cancelled),
        cancelled(cancelled_then_completed),
        cancelled_then_completed,
        kept,
    )
    found = await live.indicators(school_id=str(registered.school_id))
    assert found["sessions_delivered"] == 1
    assert found["peer_participations"] == 19
    rows = (
        await live.client.get(
            "/v1/exports/sessions.csv", params={"school_id": str(registered.school_id)}
        )
    ).text.splitlines()
    assert len(rows) == 2  # header + the one delivered session
    assert str(kept.session_id) in rows[1]


async def test_a_cancellation_published_with_a_sentence_before_reason_codes_still_counts(
    live: Live,
) -> None:
    # What YTS_SESSIONS still holds from before reasons became codes: read as "other", not
    # dead-lettered (which would leave the session counted as delivered).
    registered = school()
    enrolled = trainer(registered.school_id)
    delivered = session(registered.school_id, [enrolled.trainer_id], total=15)
    kept = session(registered.school_id, [enrolled.trainer_id], total=12)
    await live.publish(registered, enrolled, delivered, kept)
    dead_letters = (await live.js.stream_info("YTS_DLQ")).state.messages
    envelope = to_nats(cancelled(delivered), source="/yts/sessions", event_id=uuid.uuid4())
    old_body = envelope.body.replace(b'"school_closure"', b'"Aruzhan Abenova was ill"')
    assert b"Aruzhan" in old_body

    await live.js.publish(envelope.subject, old_body, headers=envelope.headers)
    await eventually(lambda: consumers_caught_up(live.js), timeout=30)

    found = await live.indicators(school_id=str(registered.school_id))
    assert found["sessions_delivered"] == 1
    assert found["peer_participations"] == 12
    assert (await live.js.stream_info("YTS_DLQ")).state.messages == dead_letters


async def test_erasure_and_withdrawal_keep_the_counts_right(live: Live) -> None:
    registered = school("Medeu")
    stays, leaves = trainer(registered.school_id), trainer(registered.school_id, gender="male")
    delivered = session(registered.school_id, [leaves.trainer_id])
    await live.publish(
        registered,
        stays,
        leaves,
        delivered,
        TrainerWithdrawn(
            trainer_id=leaves.trainer_id,
            school_id=registered.school_id,
            reason="graduated",
            withdrawn_at=NOW,
        ),
        TrainerErased(trainer_id=leaves.trainer_id, erased_at=NOW),
    )
    found = await live.indicators(school_id=str(registered.school_id))
    assert found["trainers_enrolled"] == 2
    assert found["trainers_withdrawn"] == 1
    assert found["trainers_active"] == 1
    assert found["sessions_delivered"] == 1
    male = await live.indicators(school_id=str(registered.school_id), gender="male")
    assert male["trainers_enrolled"] == 1


async def monthly(live: Live, **query: Any) -> dict[str, dict[str, Any]]:
    response = await live.client.get("/v1/indicators/monthly", params=query)
    assert response.status_code == 200, response.text
    return {
        m["month"]: {k: v["value"] for k, v in m.items() if isinstance(v, dict) and "value" in v}
        for m in response.json()["months"]
    }


async def test_an_enrolment_typed_today_counts_in_the_month_it_took_effect(live: Live) -> None:
    """A paper record typed today, enrolled three months ago: the monthly figures and the
    period filters count it in the month of enrolled_on, not the month it was typed; its
    withdrawal, typed today too, in the month of withdrawn_on."""
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Almaty")).date()
    enrolled_on = today - timedelta(days=92)
    withdrawn_on = today - timedelta(days=40)
    registered = school("Turksib")
    paper = trainer(registered.school_id).model_copy(
        update={"enrolled_at": now, "enrolled_on": enrolled_on}
    )
    left = TrainerWithdrawn(
        trainer_id=paper.trainer_id,
        school_id=registered.school_id,
        reason="moved_school",
        withdrawn_at=now,
        withdrawn_on=withdrawn_on,
    )
    await live.publish(registered, paper, left)

    months = await monthly(live, school_id=str(registered.school_id))
    assert months[f"{enrolled_on:%Y-%m}"]["trainers_enrolled"] == 1
    assert months[f"{withdrawn_on:%Y-%m}"]["trainers_withdrawn"] == 1
    typed_month = months.get(f"{today:%Y-%m}", {})  # absent: no fact in it at all
    assert typed_month.get("trainers_enrolled", 0) == 0
    assert typed_month.get("trainers_withdrawn", 0) == 0

    def period(first: date, last: date) -> dict[str, str]:
        return {"school_id": str(registered.school_id), "from": str(first), "to": str(last)}

    that_day = await live.indicators(**period(enrolled_on, enrolled_on))
    assert that_day["trainers_enrolled"] == 1
    assert that_day["schools_participating"] == 1
    assert (await live.indicators(**period(withdrawn_on, withdrawn_on)))["trainers_withdrawn"] == 1
    typed = await live.indicators(**period(today - timedelta(days=1), today))
    assert typed["trainers_enrolled"] == 0
    assert typed["trainers_withdrawn"] == 0


async def test_an_older_event_without_the_day_counts_on_the_programme_day_of_its_time(
    live: Live,
) -> None:
    """Events published before enrolled_on/withdrawn_on existed took effect when typed: 19:30
    UTC on the last day of a month is the first of the next in Almaty."""
    registered = school("Zhetysu")
    late_evening = datetime(2024, 9, 30, 19, 30, tzinfo=UTC)
    older = trainer(registered.school_id).model_copy(update={"enrolled_at": late_evening})
    assert older.enrolled_on is None
    left = TrainerWithdrawn(
        trainer_id=older.trainer_id,
        school_id=registered.school_id,
        reason="personal",
        withdrawn_at=datetime(2024, 11, 30, 20, 0, tzinfo=UTC),
    )
    await live.publish(registered, older, left)
    months = await monthly(live, school_id=str(registered.school_id))
    assert months["2024-10"]["trainers_enrolled"] == 1
    assert months["2024-12"]["trainers_withdrawn"] == 1
    assert "2024-09" not in months


async def test_a_repeated_milestone_counts_once(live: Live) -> None:
    registered = school()
    enrolled = trainer(registered.school_id)
    reached = MilestoneReached(
        milestone_id=milestone_id(
            MilestoneKind.TRAINER_CERTIFIED, SubjectType.TRAINER, enrolled.trainer_id
        ),
        kind=MilestoneKind.TRAINER_CERTIFIED,
        subject=MilestoneSubject(type=SubjectType.TRAINER, id=enrolled.trainer_id),
        reached_at=NOW,
        evidence={"core_modules_completed": 6},
        caused_by=uuid.uuid4(),
    )
    await live.publish(registered, enrolled, reached, reached)  # two ce-ids, one milestone
    found = await live.indicators(school_id=str(registered.school_id))
    assert found["trainers_certified"] == 1
    assert found["milestones_reached"] == 1


async def test_while_a_rebuild_runs_live_events_reach_both_generations(live: Live) -> None:
    db = Database(live.database_url)
    served, new = await claim(db, force=False)
    try:
        with pytest.raises(RebuildRefused):
            await claim(db, force=False)  # one rebuild at a time
        registered = school("Alatau")
        await live.publish(registered)
        async with db.session() as s:
            rows = await s.execute(
                select(col(ProjectedSchool.generation)).where(
                    col(ProjectedSchool.school_id) == registered.school_id
                )
            )
            generations = sorted(rows.scalars())
        assert generations == [served, new], f"claimed {new} while serving {served}"
        # Requests keep reading the served generation meanwhile, live events included.
        async with snapshot(db) as read_model:
            assert read_model.generation == served
            found = await read_model.schools(registered.school_id)
        assert [s.school_id for s in found] == [registered.school_id]
    finally:
        await release(db, new)
        await db.dispose()


async def test_the_rebuild_command_replays_with_a_progress_bar_and_switches_over(
    live: Live, tmp_path: Path
) -> None:
    registered = school("Turksib")
    enrolled = trainer(registered.school_id)
    await live.publish(registered, enrolled, session(registered.school_id, [enrolled.trainer_id]))
    before = await live.indicators()
    assert before["sessions_delivered"] >= 1  # something for the replay to rebuild
    env = {
        **os.environ,
        "YTS_REPORTING_NATS_URL": live.nats_url,
        "YTS_REPORTING_DATABASE_URL": live.database_url,
        "YTS_REPORTING_LOG_FORMAT": "console",
    }
    yts = Path(sys.executable).parent / "yts"
    process = await asyncio.create_subprocess_exec(
        str(yts),
        "reporting",
        "rebuild",
        "--retire-after",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # no `yts up` state folder around
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    assert "events/s" in text
    assert "now serving generation" in text
    assert await live.indicators() == before


async def test_the_previous_releases_read_models_are_carried_over(database_factory) -> None:
    url = await database_factory("reporting_previous_release")
    await upgrade_async(url, MIGRATIONS, revision="67ca12de054f")
    school_id, trainer_id, cohort_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    db = Database(url)
    schools = sa.table(
        "school_view",
        sa.column("school_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("district", sa.String()),
        sa.column("registered_at", sa.DateTime(timezone=True)),
    )
    trainers = sa.table(
        "trainer_view",
        *(sa.column(c, sa.Uuid()) for c in ("trainer_id", "school_id", "cohort_id")),
        sa.column("grade", sa.Integer()),
        sa.column("gender", sa.String()),
        sa.column("status", sa.String()),
        sa.column("enrolled_at", sa.DateTime(timezone=True)),
        sa.column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.column("erased", sa.Boolean()),
    )
    async with db.transaction() as s:
        await s.execute(
            schools.insert().values(
                school_id=school_id, name="Lyceum No. 1", district="Almaly", registered_at=NOW
            )
        )
        await s.execute(
            trainers.insert().values(
                trainer_id=trainer_id,
                school_id=school_id,
                cohort_id=cohort_id,
                grade=9,
                gender="female",
                status="withdrawn",
                enrolled_at=NOW,
                withdrawn_at=NOW,
                erased=True,
            )
        )
    await upgrade_async(url, MIGRATIONS)
    async with snapshot(db) as read_model:
        totals = await read_model.overall(Filters(district="Almaly"))
        assert [s.name for s in await read_model.schools()] == ["Lyceum No. 1"]
    await db.dispose()
    assert totals.trainers_enrolled == 1
    assert totals.trainers_withdrawn == 1
    assert totals.schools_participating == 1
