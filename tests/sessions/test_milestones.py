"""Milestones: every kind of the design reached once per subject, with its evidence and the
event that caused it, also when requests arrive concurrently. Small thresholds (configuration)
keep the scenarios short; the defaults are the design's."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from yts_chassis.settings import SettingsError, load_settings
from yts_contracts.milestones import MilestoneKind, milestone_id
from yts_sessions import milestones
from yts_sessions.settings import MilestoneThresholds, SessionsSettings

from tests.sessions.conftest import StartSessions
from tests.support.sessions_roster import (
    COMPLETED,
    CORE_MODULES,
    MILESTONE,
    MODULE_COMPLETED,
    Enrolment,
    certify,
    completion,
    plan,
    school_with_trainers,
    staged,
)

SMALL = {
    "trainer_sessions_5": 2,
    "trainer_peers_100": 30,
    "school_sessions_20": 3,
    "programme_peers_1000": 40,
    "programme_peers_5000": 60,
    "programme_peers_10000": 80,
}


def test_the_default_thresholds_are_the_designs() -> None:
    settings = SessionsSettings()
    rules = {r.kind: r for r in milestones.milestone_rules(settings.milestones, len(CORE_MODULES))}

    assert set(rules) == set(MilestoneKind)
    assert {kind.value: rule.threshold for kind, rule in rules.items()} == {
        "trainer.certified": 6,
        "trainer.first_session": 1,
        "trainer.sessions.5": 5,
        "trainer.peers.100": 100,
        "school.first_session": 1,
        "school.sessions.20": 20,
        "programme.peers.1000": 1000,
        "programme.peers.5000": 5000,
        "programme.peers.10000": 10000,
    }


def test_thresholds_are_configuration_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YTS_SESSIONS_MILESTONES__SCHOOL_SESSIONS_20", "3")
    assert load_settings(SessionsSettings).milestones.school_sessions_20 == 3

    monkeypatch.setenv("YTS_SESSIONS_MILESTONES__PROGRAMME_PEERS_5000", "500")
    with pytest.raises(SettingsError, match="YTS_SESSIONS_MILESTONES"):
        load_settings(SessionsSettings)
    monkeypatch.setenv("YTS_SESSIONS_MILESTONES__PROGRAMME_PEERS_5000", "0")
    with pytest.raises(SettingsError, match="PROGRAMME_PEERS_5000"):
        load_settings(SessionsSettings)


def test_a_threshold_is_crossed_by_exactly_one_step_of_a_growing_count() -> None:
    rules = milestones.milestone_rules(MilestoneThresholds(**SMALL), 6)
    programme = milestones.Subject.programme()
    counts = [0, 25, 39, 40, 41, 79, 120, 130]
    reached = [
        rule.kind.value
        for before, after in pairwise(counts)
        for rule in milestones.crossed(
            rules, milestones.Step(programme, milestones.Count.PEER_PARTICIPATIONS, before, after)
        )
    ]
    assert reached == ["programme.peers.1000", "programme.peers.5000", "programme.peers.10000"]


async def complete(
    client: httpx.AsyncClient, school_id: uuid.UUID, facilitators: list[uuid.UUID], total: int
) -> str:
    """Plan and complete a session; returns the id of its session.completed event."""
    created = await client.post("/v1/sessions", json=plan(school_id, facilitators))
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    body = completion(participants={"total": total}, feedback={"responses": 0})
    done = await client.post(f"/v1/sessions/{session_id}/completion", json=body)
    assert done.status_code == 200, done.text
    (event,) = [e for e in await staged(client, COMPLETED) if e.data["session_id"] == session_id]
    return event.event_id


async def test_every_milestone_kind_is_reached_once_with_its_evidence_and_cause(
    start_sessions: StartSessions, enrolment_events: Enrolment
) -> None:
    async with start_sessions(milestones=SMALL) as client:
        school = await school_with_trainers(enrolment_events, client, trainers=2)
        a, b = school.trainers
        await certify(client, a)
        await certify(client, b)
        s1 = await complete(client, school.id, [a], 20)
        s2 = await complete(client, school.id, [a, b], 15)
        s3 = await complete(client, school.id, [b], 30)
        s4 = await complete(client, school.id, [a], 20)
        await complete(client, school.id, [a], 10)

        reached = await staged(client, MILESTONE)
        modules = await staged(client, MODULE_COMPLETED)
        progress_a = (await client.get(f"/v1/trainers/{a}/progress")).json()

    by_kind_subject = {(m.data["kind"], m.data["subject"]["id"]): m.data for m in reached}
    assert len(reached) == len(by_kind_subject) == 13
    assert {m.data["kind"] for m in reached} == {k.value for k in MilestoneKind}
    # Certification is caused by each trainer's last module completion.
    last_module = {t: [m for m in modules if m.data["trainer_id"] == str(t)][-1] for t in (a, b)}
    expected = {
        ("trainer.certified", str(a)): ({"core_modules_completed": 6}, last_module[a].event_id),
        ("trainer.certified", str(b)): ({"core_modules_completed": 6}, last_module[b].event_id),
        ("trainer.first_session", str(a)): ({"sessions_facilitated": 1}, s1),
        ("trainer.sessions.5", str(a)): ({"sessions_facilitated": 2}, s2),
        ("trainer.peers.100", str(a)): ({"peer_participations": 35}, s2),
        ("trainer.first_session", str(b)): ({"sessions_facilitated": 1}, s2),
        ("trainer.sessions.5", str(b)): ({"sessions_facilitated": 2}, s3),
        ("trainer.peers.100", str(b)): ({"peer_participations": 45}, s3),
        ("school.first_session", str(school.id)): ({"sessions_delivered": 1}, s1),
        ("school.sessions.20", str(school.id)): ({"sessions_delivered": 3}, s3),
        ("programme.peers.1000", None): ({"peer_participations": 65}, s3),
        ("programme.peers.5000", None): ({"peer_participations": 65}, s3),
        ("programme.peers.10000", None): ({"peer_participations": 85}, s4),
    }
    assert set(by_kind_subject) == set(expected)
    for key, (evidence, cause) in expected.items():
        milestone = by_kind_subject[key]
        kind, subject_id = key
        assert milestone["evidence"] == evidence, key
        assert milestone["caused_by"] == cause, key
        assert milestone["milestone_id"] == str(milestone_id(kind, kind.split(".")[0], subject_id))
    assert progress_a["sessions_facilitated"] == 4
    assert progress_a["peer_participations"] == 65
    assert {m["kind"] for m in progress_a["milestones"]} == {
        "trainer.certified",
        "trainer.first_session",
        "trainer.sessions.5",
        "trainer.peers.100",
    }


async def test_concurrent_sessions_reach_each_milestone_once_and_count_every_peer(
    start_sessions: StartSessions, enrolment_events: Enrolment
) -> None:
    async with start_sessions(milestones=SMALL) as client:
        school = await school_with_trainers(enrolment_events, client, trainers=3)
        a, b, c = school.trainers
        for trainer_id in school.trainers:
            await certify(client, trainer_id)
        # Overlapping facilitators in different orders: the counters' locks must not deadlock.
        teams = [[a], [b, a], [a, b], [c], [c, a, b], [b], [a, c], [b, c], [c], [a]] * 2
        created = [
            (await client.post("/v1/sessions", json=plan(school.id, team))).json() for team in teams
        ]
        body = completion(participants={"total": 7}, feedback={"responses": 0})

        responses = await asyncio.gather(
            *(client.post(f"/v1/sessions/{s['id']}/completion", json=body) for s in created)
        )

        assert [r.status_code for r in responses] == [200] * len(teams)
        reached = await staged(client, MILESTONE)
        progress = {
            t: (await client.get(f"/v1/trainers/{t}/progress")).json() for t in school.trainers
        }

    per_milestone = Counter(m.data["milestone_id"] for m in reached)
    assert set(per_milestone.values()) == {1}
    kinds = Counter(m.data["kind"] for m in reached)
    assert kinds == {
        "trainer.certified": 3,
        "trainer.first_session": 3,
        "trainer.sessions.5": 3,
        "trainer.peers.100": 3,
        "school.first_session": 1,
        "school.sessions.20": 1,
        "programme.peers.1000": 1,
        "programme.peers.5000": 1,
        "programme.peers.10000": 1,
    }
    for trainer_id in school.trainers:
        runs = sum(trainer_id in team for team in teams)
        assert progress[trainer_id]["sessions_facilitated"] == runs
        assert progress[trainer_id]["peer_participations"] == 7 * runs
    programme = [m.data for m in reached if m.data["kind"] == "programme.peers.10000"]
    assert programme[0]["evidence"]["peer_participations"] in range(80, 87)


async def test_concurrent_completions_of_modules_certify_once_and_of_one_session_complete_once(
    start_sessions: StartSessions, enrolment_events: Enrolment
) -> None:
    async with start_sessions(milestones=SMALL) as client:
        school = await school_with_trainers(enrolment_events, client, trainers=2)
        a, b = school.trainers
        path = f"/v1/trainers/{a}/module-completions"
        bodies: list[dict[str, Any]] = [{"module_id": m} for m in CORE_MODULES] * 2

        modules = await asyncio.gather(*(client.post(path, json=body) for body in bodies))

        assert sorted(r.status_code for r in modules) == [201] * 6 + [409] * 6
        await certify(client, b)
        created = await client.post("/v1/sessions", json=plan(school.id, [a, b]))
        session_path = f"/v1/sessions/{created.json()['id']}/completion"
        twice = await asyncio.gather(
            client.post(session_path, json=completion()),
            client.post(session_path, json=completion()),
        )
        assert sorted(r.status_code for r in twice) == [200, 409]
        reached = await staged(client, MILESTONE)
        sessions_completed = await staged(client, COMPLETED)

    assert Counter(m.data["kind"] for m in reached if m.data["subject"]["id"] == str(a)) == {
        "trainer.certified": 1,
        "trainer.first_session": 1,
    }
    assert len(sessions_completed) == 1


async def test_a_milestone_is_dated_by_the_fact_that_reached_it_not_by_when_it_was_recorded(
    start_sessions: StartSessions, enrolment_events: Enrolment
) -> None:
    # Coordinators often record modules and sessions days later; reporting counts milestones
    # by the day they were reached, so a late entry must land in the month it belongs to.
    almaty = ZoneInfo("Asia/Almaty")
    today = datetime.now(almaty).date()
    month_ago, days_ago = today - timedelta(days=30), today - timedelta(days=3)
    async with start_sessions(milestones=SMALL) as client:
        school = await school_with_trainers(enrolment_events, client, trainers=2)
        late, on_time = school.trainers
        for module_id in CORE_MODULES:
            response = await client.post(
                f"/v1/trainers/{late}/module-completions",
                json={"module_id": module_id, "completed_on": month_ago.isoformat()},
            )
            assert response.status_code == 201, response.text
        await certify(client, on_time)
        created = await client.post("/v1/sessions", json=plan(school.id, [late]))
        body = completion(delivered_on=days_ago.isoformat())
        done = await client.post(f"/v1/sessions/{created.json()['id']}/completion", json=body)
        assert done.status_code == 200, done.text
        reached = {
            (m.data["kind"], m.data["subject"]["id"]): datetime.fromisoformat(m.data["reached_at"])
            for m in await staged(client, MILESTONE)
        }

    def start_of(day: date) -> datetime:
        return datetime.combine(day, time.min, almaty)

    assert reached[("trainer.certified", str(late))] == start_of(month_ago)
    assert reached[("trainer.first_session", str(late))] == start_of(days_ago)
    assert reached[("school.first_session", str(school.id))] == start_of(days_ago)
    assert reached[("trainer.certified", str(on_time))].astimezone(almaty).date() == today
