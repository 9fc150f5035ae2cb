"""Provisioning of streams, durable consumers and the access bucket on a real nats-server: it
creates what the design lists, is idempotent, reports hand-made changes as drift without
touching them, and restores them only when asked. Each test gets its own server because tests
change configs."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, StorageType
from nats.js.client import JetStreamContext
from typer.testing import CliRunner
from yts_chassis.access.buckets import ACCESS_BUCKET, ACCESS_STREAM
from yts_contracts.streams import DLQ_STREAM, PRIVATE_STREAM, STREAMS
from yts_deploy.cli import app
from yts_deploy.natsserver import NatsServer
from yts_deploy.provision import DLQ_MAX_AGE_SECONDS, DUPLICATE_WINDOW_SECONDS, provision
from yts_deploy.topology import SERVICE_CONSUMERS

# The design's "Streams and consumers" table, written out so that a change to the code that
# departs from the promise to partners fails here.
DESIGN_STREAMS = {
    "YTS_ENROLMENT": ["yts.enrolment.>"],
    "YTS_SESSIONS": ["yts.sessions.>"],
    "YTS_MILESTONES": ["yts.milestones.>"],
    "YTS_CREDENTIALS": ["yts.credentials.>"],
    "YTS_PRIVATE": ["yts.private.>"],
    "YTS_DLQ": ["yts.dlq.>"],
}
ALL_LABELS = sorted(
    [f"stream {spec.name}" for spec in STREAMS]
    + [f"consumer {c.stream}/{c.durable}" for c in SERVICE_CONSUMERS]
    + [f"bucket {ACCESS_BUCKET}"]
    + [
        f"bucket {name}"
        for name in ("yts-workspace-people", "yts-workspace-links", "yts-workspace-signins")
    ]
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(store_dir=tmp_path / "nats", name="yts-provision-test") as nats_server:
        yield nats_server


@pytest.fixture
async def client(server: NatsServer) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(server.url)
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
def jetstream(client: NatsClient) -> JetStreamContext:
    return client.jetstream()


async def snapshot(js: JetStreamContext) -> dict[str, Any]:
    """Every stream's and consumer's config and creation time, as the server reports them."""
    found: dict[str, Any] = {}
    for spec in STREAMS:
        info = await js.stream_info(spec.name)
        found[f"stream {spec.name}"] = (info.config, info.created)
    for consumer in SERVICE_CONSUMERS:
        cinfo = await js.consumer_info(consumer.stream, consumer.durable)
        found[f"consumer {consumer.stream}/{consumer.durable}"] = (cinfo.config, cinfo.created)
    return found


async def test_provisioning_an_empty_server_creates_the_designed_streams(
    jetstream: JetStreamContext,
) -> None:
    report = await provision(jetstream)

    assert report.ok
    assert sorted(report.created) == ALL_LABELS
    assert {spec.name for spec in STREAMS} == set(DESIGN_STREAMS)
    for name, subjects in DESIGN_STREAMS.items():
        config = (await jetstream.stream_info(name)).config
        assert config.subjects == subjects, name
        assert config.storage == StorageType.FILE, name
        assert config.duplicate_window == DUPLICATE_WINDOW_SECONDS, name


async def test_provisioning_creates_every_service_consumer_as_durable_pull_with_explicit_ack(
    jetstream: JetStreamContext,
) -> None:
    await provision(jetstream)

    for consumer in SERVICE_CONSUMERS:
        info = await jetstream.consumer_info(consumer.stream, consumer.durable)
        assert info.config.durable_name == consumer.durable
        assert info.config.deliver_subject is None, f"{consumer.durable} is a push consumer"
        assert info.config.ack_policy == AckPolicy.EXPLICIT
        assert info.config.filter_subject == consumer.filter_subject


async def test_private_stream_and_dead_letter_stream_exist_and_dead_letters_expire(
    jetstream: JetStreamContext,
) -> None:
    await provision(jetstream)

    private = (await jetstream.stream_info(PRIVATE_STREAM)).config
    dlq = (await jetstream.stream_info(DLQ_STREAM)).config
    assert private.subjects == ["yts.private.>"]
    assert dlq.subjects == ["yts.dlq.>"]
    assert dlq.max_age == DLQ_MAX_AGE_SECONDS > 0


async def test_provisioning_again_changes_nothing_and_reports_everything_unchanged(
    jetstream: JetStreamContext,
) -> None:
    await provision(jetstream)
    await jetstream.publish("yts.enrolment.school.registered.v1", b"{}")
    before = await snapshot(jetstream)

    report = await provision(jetstream)

    assert report.created == []
    assert report.drift == []
    assert report.fixed == []
    assert sorted(report.unchanged) == ALL_LABELS
    assert await snapshot(jetstream) == before
    assert (await jetstream.stream_info("YTS_ENROLMENT")).state.messages == 1


async def test_a_stream_changed_by_hand_is_reported_as_drift_and_left_alone(
    jetstream: JetStreamContext,
) -> None:
    await provision(jetstream)
    original = (await jetstream.stream_info("YTS_SESSIONS")).config
    await jetstream.update_stream(
        config=dataclasses.replace(
            original, max_age=3600, subjects=["yts.sessions.>", "yts.handmade.>"]
        )
    )
    changed = (await jetstream.stream_info("YTS_SESSIONS")).config

    report = await provision(jetstream)

    assert not report.ok
    assert len(report.drift) == 1
    assert report.drift[0].startswith("stream YTS_SESSIONS:")
    assert "max_age" in report.drift[0]
    assert "subjects" in report.drift[0]
    assert report.fixed == []
    assert (await jetstream.stream_info("YTS_SESSIONS")).config == changed


async def test_fix_restores_a_stream_changed_by_hand(jetstream: JetStreamContext) -> None:
    await provision(jetstream)
    original = (await jetstream.stream_info("YTS_SESSIONS")).config
    await jetstream.update_stream(config=dataclasses.replace(original, max_age=3600))

    fixed = await provision(jetstream, fix=True)
    again = await provision(jetstream)

    assert fixed.ok
    assert [line.split(" (")[0] for line in fixed.fixed] == ["stream YTS_SESSIONS"]
    assert (await jetstream.stream_info("YTS_SESSIONS")).config == original
    assert again.ok
    assert sorted(again.unchanged) == ALL_LABELS


async def test_a_consumer_changed_by_hand_is_drift_until_fixed(
    jetstream: JetStreamContext,
) -> None:
    await provision(jetstream)
    consumer = SERVICE_CONSUMERS[0]
    original = (await jetstream.consumer_info(consumer.stream, consumer.durable)).config
    await jetstream.add_consumer(
        consumer.stream, config=dataclasses.replace(original, ack_wait=5, max_ack_pending=7)
    )
    changed = (await jetstream.consumer_info(consumer.stream, consumer.durable)).config

    report = await provision(jetstream)
    assert [line.split(":")[0] for line in report.drift] == [
        f"consumer {consumer.stream}/{consumer.durable}"
    ]
    assert (await jetstream.consumer_info(consumer.stream, consumer.durable)).config == changed

    fixed = await provision(jetstream, fix=True)
    assert fixed.ok
    assert (await jetstream.consumer_info(consumer.stream, consumer.durable)).config == original


async def test_the_access_bucket_keeps_one_value_a_key_on_file_and_is_drift_until_fixed(
    jetstream: JetStreamContext,
) -> None:
    await provision(jetstream)
    config = (await jetstream.stream_info(ACCESS_STREAM)).config
    assert (config.storage, config.max_msgs_per_subject) == (StorageType.FILE, 1)
    assert config.allow_direct  # a service looks up a key its copy lacks
    assert config.allow_msg_ttl  # revocations expire
    await jetstream.update_stream(config=dataclasses.replace(config, max_msgs_per_subject=5))

    report = await provision(jetstream)
    assert [line.split(":")[0] for line in report.drift] == [f"bucket {ACCESS_BUCKET}"]
    assert "max_msgs_per_subject" in report.drift[0]

    fixed = await provision(jetstream, fix=True)
    assert fixed.ok
    assert (await jetstream.stream_info(ACCESS_STREAM)).config.max_msgs_per_subject == 1


async def test_a_republished_event_id_within_the_window_is_dropped_as_duplicate(
    jetstream: JetStreamContext,
) -> None:
    await provision(jetstream)
    headers = {"Nats-Msg-Id": str(uuid.uuid4())}
    subject = "yts.enrolment.school.registered.v1"

    first = await jetstream.publish(subject, b"{}", headers=headers)
    repeat = await jetstream.publish(subject, b"{}", headers=headers)

    assert not first.duplicate
    assert repeat.duplicate is True
    assert repeat.seq == first.seq
    assert (await jetstream.stream_info("YTS_ENROLMENT")).state.messages == 1


def invoke_provision(url: str) -> Any:
    # In a worker thread: the command calls asyncio.run, which must not meet the test's loop.
    return CliRunner().invoke(app, ["provision", "--nats-url", url])


async def test_cli_provision_exits_0_on_a_fresh_server_and_1_when_drift_exists(
    server: NatsServer, jetstream: JetStreamContext
) -> None:
    fresh = await asyncio.to_thread(invoke_provision, server.url)
    assert fresh.exit_code == 0, fresh.output
    assert "created   stream YTS_ENROLMENT" in fresh.output

    clean = await asyncio.to_thread(invoke_provision, server.url)
    assert clean.exit_code == 0, clean.output

    original = (await jetstream.stream_info("YTS_ENROLMENT")).config
    await jetstream.update_stream(config=dataclasses.replace(original, max_age=3600))
    drifted = await asyncio.to_thread(invoke_provision, server.url)

    assert drifted.exit_code == 1, drifted.output
    assert "DRIFT     stream YTS_ENROLMENT" in drifted.output
    assert (await jetstream.stream_info("YTS_ENROLMENT")).config.max_age == 3600
