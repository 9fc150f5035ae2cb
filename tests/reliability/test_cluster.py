"""The `cluster` profile's promise on real processes: three nats-server nodes on loopback, run
from deploy/nats/cluster.conf, streams provisioned with three replicas. Killing the stream's
leader (SIGKILL) while a service publishes loses no acknowledged event: every one of them is
read back, once, from a surviving node."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError
from yts_deploy.natsconfig import PROVISIONER, inbox_prefix
from yts_deploy.natsserver import NatsServer

from tests.support.deploy_nats import (
    cluster_nodes,
    new_platform_passwords,
    provision_r3_when_clustered,
)

EVENTS = 300
KILL_AFTER = 150
DEADLINE_SECONDS = 60.0
SUBJECT = "yts.enrolment.trainer.enrolled.v1"


@dataclass
class Cluster:
    nodes: list[NatsServer]
    passwords: dict[str, str]

    def urls(self, nodes: list[NatsServer] | None = None) -> list[str]:
        return [node.url for node in nodes or self.nodes]

    async def connect(self, user: str, nodes: list[NatsServer] | None = None) -> NatsClient:
        return await nats.connect(
            servers=self.urls(nodes),
            user=user,
            password=self.passwords[user],
            inbox_prefix=inbox_prefix(user),
            dont_randomize=True,
            reconnect_time_wait=0.2,
            max_reconnect_attempts=-1,
            connect_timeout=2,
        )


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    passwords = new_platform_passwords()
    nodes = cluster_nodes(tmp_path, passwords)
    try:
        for node in nodes:
            node.start()
        yield Cluster(nodes, passwords)
    finally:
        for node in nodes:
            node.stop()


async def publish_until_acked(js: object, event_id: str, deadline: float) -> None:
    """Publish one event, re-publishing the same id until acknowledged: what the outbox relay
    does; the duplicate window drops a repeat the server had already stored."""
    while True:
        try:
            await js.publish(  # type: ignore[attr-defined]
                SUBJECT,
                f'{{"n": "{event_id}"}}'.encode(),
                timeout=2,
                headers={"Nats-Msg-Id": event_id},
            )
            return
        except (NatsTimeout, NoRespondersError, NoStreamResponseError, APIError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_an_r3_stream_keeps_every_acknowledged_event_when_its_leader_is_killed(
    cluster: Cluster,
) -> None:
    started = time.monotonic()
    await provision_r3_when_clustered(",".join(cluster.urls()), cluster.passwords[PROVISIONER])
    print(f"provisioned R3 after {time.monotonic() - started:.1f}s")
    publisher = await cluster.connect("enrolment")
    admin = await cluster.connect(PROVISIONER)
    deadline = time.monotonic() + DEADLINE_SECONDS
    acknowledged: list[str] = []
    killed: NatsServer | None = None
    try:
        js = publisher.jetstream()
        for n in range(EVENTS):
            if n == KILL_AFTER:
                info = await admin.jetstream().stream_info("YTS_ENROLMENT")
                assert info.config.num_replicas == 3
                assert info.cluster is not None
                killed = next(node for node in cluster.nodes if node.name == info.cluster.leader)
                killed.kill()
            event_id = str(uuid.uuid4())
            await publish_until_acked(js, event_id, deadline)
            acknowledged.append(event_id)
    finally:
        await publisher.close()
        await admin.close()
    assert killed is not None
    print(f"published {EVENTS} after {time.monotonic() - started:.1f}s")

    survivors = [node for node in cluster.nodes if node is not killed]
    reader = await cluster.connect("reporting", survivors)
    try:
        subscription = await reader.jetstream().pull_subscribe_bind(
            durable="reporting-enrolment", stream="YTS_ENROLMENT"
        )
        received: list[str] = []
        unavailable = 0
        while len(received) < EVENTS and time.monotonic() < deadline:
            try:
                batch = await subscription.fetch(100, timeout=2)
            except NatsTimeout:
                continue
            except (ServiceUnavailableError, NoRespondersError):
                # The consumer may have lost its leader with the killed node: until the
                # survivors elect one, a pull is answered 503. FastStream's pull loop waits
                # this out the same way.
                unavailable += 1
                await asyncio.sleep(0.2)
                continue
            for message in batch:
                received.append((message.headers or {})["Nats-Msg-Id"])
                await message.ack()
    finally:
        await reader.close()
    print(f"read {len(received)} back; {unavailable} pulls waited for a consumer leader")
    admin = await cluster.connect(PROVISIONER, survivors)
    try:
        info = await admin.jetstream().stream_info("YTS_ENROLMENT")
    finally:
        await admin.close()

    assert sorted(received) == sorted(acknowledged)  # none lost, none twice
    assert info.state.messages == EVENTS
    assert info.cluster is not None
    assert info.cluster.leader != killed.name  # a survivor took over
