"""What enrolment publishes, read back from a real nats-server: each event once, with its
CloudEvents headers and Nats-Msg-Id, valid against the checked-in JSON Schema; no personal data
of a trainer anywhere in any stream; and nothing lost while NATS is away."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jsonschema
import nats
from yts_contracts.streams import STREAMS
from yts_deploy.natsserver import NatsServer
from yts_deploy.provision import provision
from yts_enrolment.main import create_app
from yts_enrolment.settings import EnrolmentSettings

from tests.support.enrolment_api import COHORT, SCHOOL, trainer
from tests.support.events import stream_messages
from tests.support.services import eventually, running, settings_for

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
CE_HEADERS = ("ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-dataschema")


def schema_of(event_type: str) -> dict:
    return json.loads((SCHEMAS / f"{event_type}.json").read_text())


async def a_realistic_run(client: httpx.AsyncClient, tag: str) -> list[str]:
    """Two schools, one cohort, five trainers; a withdrawal and an erasure. Returns every
    personal value that was entered."""
    personal: list[str] = []
    schools = []
    for i, district in enumerate(("Bostandyk", "Turksib")):
        body = {**SCHOOL, "name": f"{tag} School No. {i + 30}", "district": district}
        response = await client.post("/v1/schools", json=body)
        assert response.status_code == 201, response.text
        schools.append(response.json()["id"])
    cohort = await client.post("/v1/cohorts", json=COHORT)
    cohort_id = (
        cohort.json()["id"]
        if cohort.status_code == 201
        else next(
            c["id"] for c in (await client.get("/v1/cohorts")).json() if c["name"] == COHORT["name"]
        )
    )
    trainers = []
    names = [
        ("Ainur", "Zhaksylykova"),
        ("Timur", "Bekov"),
        ("Madina", "Ospanova"),
        ("Yerlan", "Tulegenov"),
        ("Kamila", "Akhmetova"),
    ]
    for index, (first, last) in enumerate(names):
        guardian = f"{last} Guardian-{tag}"
        body = trainer(
            schools[index % 2],
            cohort_id,
            first_name=f"{first}{tag}",
            last_name=f"{last}{tag}",
            notes=f"allergy note {tag}",
            guardian_consent={"guardian_name": guardian, "given_on": "2026-09-0" + str(index + 1)},
        )
        response = await client.post("/v1/trainers", json=body)
        assert response.status_code == 201, response.text
        trainers.append(response.json()["id"])
        personal += [f"{first}{tag}", f"{last}{tag}", guardian, f"allergy note {tag}"]
    await client.post(f"/v1/trainers/{trainers[0]}/withdrawal", json={"reason": "graduated"})
    await client.delete(f"/v1/trainers/{trainers[1]}/personal-data")
    return personal


async def test_every_event_arrives_once_with_cloudevents_headers_and_a_valid_body(
    enrolment: httpx.AsyncClient, js, tmp_path
) -> None:
    tag = tmp_path.name[-6:].replace("_", "")
    await a_realistic_run(enrolment, tag)
    runtime = enrolment.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        from sqlalchemy import select

        table = runtime.outbox.table
        staged = (
            await session.execute(
                select(table.c.event_id, table.c.event_type).order_by(table.c.seq)
            )
        ).all()

    async def all_published() -> list:
        found = []
        for stream in ("YTS_ENROLMENT", "YTS_PRIVATE"):
            found += await stream_messages(js, stream)
        ids = {e for e, _ in staged}
        ours = [m for m in found if (m.headers or {}).get("ce-id") in ids]
        return ours if len(ours) >= len(staged) else []

    messages = await eventually(all_published)
    assert sorted(m.headers["ce-id"] for m in messages) == sorted(e for e, _ in staged)
    for message in messages:
        headers = message.headers or {}
        for name in CE_HEADERS:
            assert headers.get(name), (name, headers)
        assert headers["ce-specversion"] == "1.0"
        assert headers["Nats-Msg-Id"] == headers["ce-id"]
        assert headers["ce-type"] == message.subject
        assert headers["ce-source"] == "/yts/enrolment"
        assert headers["Content-Type"] == "application/json"
        jsonschema.Draft202012Validator(schema_of(message.subject)).validate(
            json.loads(message.data)
        )
    by_type = [t for _, t in staged]
    assert by_type.count("yts.enrolment.school.registered.v1") == 2
    assert by_type.count("yts.private.enrolment.school.contact.v1") == 2
    assert by_type.count("yts.enrolment.trainer.enrolled.v1") == 5
    assert by_type.count("yts.enrolment.trainer.withdrawn.v1") == 1
    assert by_type.count("yts.enrolment.trainer.erased.v1") == 1
    # The coordinator's contact is only on the private stream.
    contact = [m for m in messages if m.subject.startswith("yts.private.")]
    assert {m.metadata.stream for m in contact} == {"YTS_PRIVATE"}


async def test_no_trainer_name_guardian_or_consent_detail_is_in_any_stream(
    enrolment: httpx.AsyncClient, js, tmp_path
) -> None:
    tag = "Q" + tmp_path.name[-5:].replace("_", "")
    personal = await a_realistic_run(enrolment, tag)

    async def settled() -> bool:
        runtime = enrolment.app.state.runtime  # type: ignore[attr-defined]
        async with runtime.db.session() as session:
            return await runtime.outbox.pending(session) == 0

    await eventually(settled)
    everything = b""
    for spec in STREAMS:
        for message in await stream_messages(js, spec.name):
            everything += message.data + json.dumps(message.headers or {}).encode()
    assert everything  # the scan saw the run's events
    text = everything.decode("utf-8", errors="replace")
    leaked = [value for value in personal if value in text]
    assert leaked == []
    assert "guardian" not in text.lower()
    assert "consent" not in text.lower()


async def test_enrolment_works_while_nats_is_down_and_publishes_everything_once_in_order(
    tmp_path: Path, database_factory
) -> None:
    server = NatsServer(store_dir=tmp_path / "nats", name="enrolment-outage").start()
    port = server.port
    nc = await nats.connect(server.url)
    await provision(nc.jetstream())
    await nc.close()
    settings = settings_for(
        EnrolmentSettings,
        nats_url=server.url,
        database_url=await database_factory("enrolment"),
        publish_timeout_seconds=1.0,
    )
    app = create_app(settings)
    try:
        async with running(app) as client:
            school = (await client.post("/v1/schools", json=SCHOOL)).json()
            cohort = (await client.post("/v1/cohorts", json=COHORT)).json()
            server.stop()
            ids = []
            for i in range(6):
                response = await client.post(
                    "/v1/trainers",
                    json=trainer(school["id"], cohort["id"], first_name=f"Offline{i}"),
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["nats"] == "down"
            assert ready.json()["outbox_pending"] >= 6

            server = NatsServer(
                store_dir=tmp_path / "nats", name="enrolment-outage", port=port
            ).start()

            async def drained() -> bool:
                body = (await client.get("/readyz")).json()
                return body["status"] == "ready" and body["outbox_pending"] == 0

            await eventually(drained, timeout=30)
        nc = await nats.connect(server.url)
        messages = await stream_messages(
            nc.jetstream(), "YTS_ENROLMENT", "yts.enrolment.trainer.enrolled.v1"
        )
        await nc.close()
        assert [json.loads(m.data)["trainer_id"] for m in messages] == ids
    finally:
        server.stop()
