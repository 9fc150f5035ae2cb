"""End to end on the real nats-server: the enrolment service enrols a trainer, the sessions
service learns of it only through NATS, the trainer is certified and runs five peer sessions,
and the milestones appear on ``yts.milestones.>`` exactly once each, as valid CloudEvents
(as do the module, session and cancellation facts on ``yts.sessions.>``)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
from nats.aio.msg import Msg
from yts_enrolment.main import create_app as create_enrolment
from yts_enrolment.settings import EnrolmentSettings

from tests.sessions.conftest import StartSessions
from tests.support.events import stream_messages
from tests.support.services import eventually, running, settings_for
from tests.support.sessions_roster import (
    certify,
    completion,
    on_roster,
    plan,
    withdrawn_on_roster,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
CE_HEADERS = ("ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-dataschema")


def validate(message: Msg) -> dict[str, Any]:
    """The message is a binary-mode CloudEvent from sessions whose body fits its schema."""
    headers = message.headers or {}
    for name in CE_HEADERS:
        assert headers.get(name), (name, headers)
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-type"] == message.subject
    assert headers["ce-source"] == "/yts/sessions"
    assert headers["Nats-Msg-Id"] == headers["ce-id"]
    assert headers["Content-Type"] == "application/json"
    schema = json.loads((SCHEMAS / f"{message.subject}.json").read_text())
    body = json.loads(message.data)
    jsonschema.Draft202012Validator(schema).validate(body)
    return body


def a_running_cohort() -> dict[str, str]:
    """Named after its years, open today, and started before yesterday."""
    today = datetime.now(ZoneInfo("Asia/Almaty")).date()
    first = (today - timedelta(days=10)).year
    return {
        "name": f"{first}-{first + 1}",
        "starts_on": date(first, 1, 1).isoformat(),
        "ends_on": date(first + 1, 6, 30).isoformat(),
    }


def enrolment_of(school_id: str, cohort_id: str, first_name: str) -> dict[str, Any]:
    return {
        "school_id": school_id,
        "cohort_id": cohort_id,
        "first_name": first_name,
        "last_name": "Serikbayeva",
        "grade": 11,
        "gender": "female",
        "languages": ["kk", "ru"],
        "guardian_consent": {
            "guardian_name": "Gulnar Serikbayeva",
            "given_on": (date.today() - timedelta(days=5)).isoformat(),
        },
    }


async def test_enrol_certify_and_five_sessions_publish_each_milestone_once(
    start_sessions: StartSessions, provisioned: str, database_factory, js
) -> None:
    enrolment_app = create_enrolment(
        settings_for(
            EnrolmentSettings,
            nats_url=provisioned,
            database_url=await database_factory("enrolment_e2e"),
        )
    )
    async with start_sessions() as sessions, running(enrolment_app) as enrolment:
        school = await enrolment.post(
            "/v1/schools",
            json={
                "name": "School-Lyceum No. 165",
                "district": "Auezov",
                "languages": ["kk", "ru"],
                "coordinator": {
                    "name": "Zhanar Omarova",
                    "email": "deputy165@example.org",
                    "locale": "ru",
                },
            },
        )
        assert school.status_code == 201, school.text
        school_id = school.json()["id"]
        cohort = await enrolment.post("/v1/cohorts", json=a_running_cohort())
        assert cohort.status_code == 201, cohort.text
        cohort_id = cohort.json()["id"]
        aruzhan = await enrolment.post(
            "/v1/trainers", json=enrolment_of(school_id, cohort_id, "Aruzhan")
        )
        leaver = await enrolment.post(
            "/v1/trainers", json=enrolment_of(school_id, cohort_id, "Leaving")
        )
        trainer_id, leaver_id = aruzhan.json()["id"], leaver.json()["id"]

        await on_roster(sessions, trainer_id, leaver_id)
        await certify(sessions, trainer_id)
        await certify(sessions, leaver_id)
        withdrawal = await enrolment.post(
            f"/v1/trainers/{leaver_id}/withdrawal", json={"reason": "moved_school"}
        )
        assert withdrawal.status_code == 200
        await withdrawn_on_roster(sessions, leaver_id)
        refused = await sessions.post("/v1/sessions", json=plan(school_id, [leaver_id]))
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["rule"] == "active"

        session_ids = []
        # 94 peer participations: below trainer.peers.100.
        for total in (18, 22, 15, 19, 20):
            created = await sessions.post("/v1/sessions", json=plan(school_id, [trainer_id]))
            assert created.status_code == 201, created.text
            session_id = created.json()["id"]
            done = await sessions.post(
                f"/v1/sessions/{session_id}/completion",
                json=completion(
                    participants={"total": total, "female": 10, "male": total - 12},
                    feedback={"responses": 12, "average_rating": 4.2},
                ),
            )
            assert done.status_code == 200, done.text
            session_ids.append(session_id)
        rained_off = await sessions.post("/v1/sessions", json=plan(school_id, [trainer_id]))
        cancelled_id = rained_off.json()["id"]
        cancelled = await sessions.post(
            f"/v1/sessions/{cancelled_id}/cancellation",
            json={"reason": "weather", "note": "Heavy snow: Aruzhan's class stayed home."},
        )
        assert cancelled.status_code == 200, cancelled.text

        ours = {trainer_id, school_id}

        async def milestones_published() -> list[Msg]:
            found = await stream_messages(js, "YTS_MILESTONES", "yts.milestones.>")
            mine = [m for m in found if json.loads(m.data)["subject"]["id"] in ours]
            return mine if len(mine) >= 4 else []

        milestones = await eventually(milestones_published, timeout=30)

        async def sessions_published() -> list[Msg]:
            found = await stream_messages(js, "YTS_SESSIONS", "yts.sessions.>")
            mine = [
                m
                for m in found
                if json.loads(m.data).get("trainer_id") == trainer_id
                or json.loads(m.data).get("session_id") in [*session_ids, cancelled_id]
            ]
            return mine if len(mine) >= 12 else []

        facts = await eventually(sessions_published, timeout=30)
        progress = (await sessions.get(f"/v1/trainers/{trainer_id}/progress")).json()

    bodies = [validate(m) for m in milestones]
    assert Counter((b["kind"], b["subject"]["id"]) for b in bodies) == {
        ("trainer.certified", trainer_id): 1,
        ("trainer.first_session", trainer_id): 1,
        ("trainer.sessions.5", trainer_id): 1,
        ("school.first_session", school_id): 1,
    }
    assert len({m.headers["ce-id"] for m in milestones}) == 4
    fact_bodies = {m.headers["ce-id"]: (m.subject, validate(m)) for m in facts}
    assert Counter(subject for subject, _ in fact_bodies.values()) == {
        "yts.sessions.module.completed.v1": 6,
        "yts.sessions.session.completed.v1": 5,
        "yts.sessions.session.cancelled.v1": 1,
    }
    by_kind = {b["kind"]: b for b in bodies}
    # Each milestone names the published event that crossed its threshold.
    certified_by = fact_bodies[by_kind["trainer.certified"]["caused_by"]]
    assert certified_by[0] == "yts.sessions.module.completed.v1"
    fifth = fact_bodies[by_kind["trainer.sessions.5"]["caused_by"]]
    assert fifth[1]["session_id"] == session_ids[4]
    first = fact_bodies[by_kind["trainer.first_session"]["caused_by"]]
    assert first[1]["session_id"] == session_ids[0]
    assert by_kind["trainer.sessions.5"]["evidence"] == {"sessions_facilitated": 5}
    assert by_kind["school.first_session"]["evidence"] == {"sessions_delivered": 1}
    assert progress["sessions_facilitated"] == 5
    assert progress["peer_participations"] == 94
    (cancellation,) = [b for subject, b in fact_bodies.values() if "cancelled" in subject]
    assert cancellation["reason"] == "weather"
    # Only opaque ids and categories leave the service: never the trainer's name, nor the
    # note a coordinator wrote about a cancellation.
    published = b"".join(m.data for m in [*milestones, *facts]).decode()
    assert "Aruzhan" not in published
    assert "Serikbayeva" not in published
