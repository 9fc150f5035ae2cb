"""SIGKILL at any moment loses nothing: real processes of `yts up`'s local system are killed in
the middle of work and started again on the same databases and JetStream store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from yts_deploy.runner import LocalSystem, wait_ready

from tests.support.enrolment_api import COHORT, SCHOOL, trainer
from tests.support.events import stream_messages
from tests.support.local_system import running_local_system


@pytest.fixture
def local_system(tmp_path: Path) -> Iterator[LocalSystem]:
    with running_local_system(tmp_path / "state") as system:
        yield system


def restart(system: LocalSystem, name: str) -> None:
    service = system.services[name]
    service.kill()  # SIGKILL: no drain, no goodbye
    service.start()
    wait_ready(service.url, alive=lambda: service.alive)


@pytest.mark.parametrize(
    ("trainers", "kill_every"),
    [
        pytest.param(30, 10, id="one-kill"),
        # make test-long: a kill loop, reporting and enrolment killed in turn many times.
        pytest.param(200, 20, id="kill-loop", marks=pytest.mark.slow),
    ],
)
def test_killing_producer_and_consumer_mid_flow_loses_and_duplicates_nothing(
    local_system: LocalSystem, trainers: int, kill_every: int
) -> None:
    auth = {"Authorization": f"Bearer {local_system.token}"}
    enrolment = httpx.Client(
        base_url=local_system.services["enrolment"].url, headers=auth, timeout=10
    )
    school_id = enrolment.post("/v1/schools", json=SCHOOL).json()["id"]
    cohort_id = enrolment.post("/v1/cohorts", json=COHORT).json()["id"]
    enrolled: list[str] = []
    for i in range(trainers):
        if i and i % kill_every == 0:
            # The consumer dies with work in flight; in the loop the producer dies too.
            victim = "reporting" if (i // kill_every) % 2 else "enrolment"
            restart(local_system, victim)
        response = enrolment.post(
            "/v1/trainers", json=trainer(school_id, cohort_id, first_name=f"Trainer{i}")
        )
        assert response.status_code == 201, response.text
        enrolled.append(response.json()["id"])
    # The producer dies right after its last commit: some events may still be in its outbox.
    restart(local_system, "enrolment")

    reporting = httpx.Client(
        base_url=local_system.services["reporting"].url, headers=auth, timeout=10
    )
    deadline = time.monotonic() + 90  # ack_wait (15 s) bounds the redelivery
    counted = -1
    while time.monotonic() < deadline:
        counted = reporting.get("/v1/indicators").json()["trainers_enrolled"]
        if isinstance(counted, dict):
            counted = counted.get("value", -1)
        if counted == trainers:
            break
        time.sleep(0.1)
    assert counted == trainers

    async def published() -> list[str]:
        assert local_system.nats is not None
        nc = await nats.connect(local_system.nats.url)
        try:
            messages = await stream_messages(
                nc.jetstream(), "YTS_ENROLMENT", "yts.enrolment.trainer.enrolled.v1"
            )
        finally:
            await nc.close()
        return [m.headers["ce-subject"] for m in messages if m.headers]

    in_stream = asyncio.run(published())
    assert sorted(in_stream) == sorted(enrolled)  # each once: no loss, no duplicate
