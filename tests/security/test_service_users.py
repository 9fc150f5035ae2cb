"""The platform's own NATS users, on a real nats-server started from deploy/nats itself: each
can publish what its service publishes and reach its own durable consumers, and the server
refuses everything else (with a "permissions violation" reported to the client)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError
from yts_contracts.streams import PRIVATE_STREAM
from yts_deploy.natsconfig import PROVISIONER, REBUILDER, SERVICE_USERS, inbox_prefix
from yts_deploy.topology import SERVICE_CONSUMERS, consumers_of
from yts_reporting.replay import REBUILD_CONSUMER, Replay, Silent, replay_stream
from yts_reporting.subscriptions import ENROLMENT as REPORTING_ENROLMENT
from yts_sessions.subscriptions import ROSTER as SESSIONS_ROSTER

from tests.support.deploy_nats import (
    SecuredNats,
    as_platform_user,
    provision_as_provisioner,
    start_secured,
)

# What each service publishes (one subject of each family it owns) ...
MAY_PUBLISH = {
    "enrolment": [
        "yts.enrolment.school.registered.v1",
        "yts.private.enrolment.school.contact.v1",
        "yts.dlq.enrolment.yts.credentials.credential.issued.v1",
    ],
    "sessions": [
        "yts.sessions.session.completed.v1",
        "yts.milestones.milestone.reached.v1",
        "yts.dlq.sessions.yts.enrolment.trainer.enrolled.v1",
    ],
    "notifications": ["yts.dlq.notifications.yts.sessions.session.completed.v1"],
    "reporting": ["yts.dlq.reporting.yts.enrolment.school.registered.v1"],
    "credentials": [
        "yts.credentials.credential.issued.v1",
        "yts.dlq.credentials.yts.milestones.milestone.reached.v1",
    ],
}
# ... and what it must never publish: another's events, contacts, another's dead letters.
MAY_NOT_PUBLISH = {
    "enrolment": [
        "yts.sessions.session.completed.v1",
        "yts.milestones.milestone.reached.v1",
        "yts.credentials.credential.issued.v1",
        "yts.dlq.sessions.anything",
    ],
    "sessions": [
        "yts.enrolment.trainer.enrolled.v1",
        "yts.private.enrolment.school.contact.v1",
        "yts.dlq.reporting.yts.enrolment.trainer.enrolled.v1",
    ],
    "notifications": [
        "yts.enrolment.school.registered.v1",
        "yts.sessions.session.completed.v1",
        "yts.private.enrolment.school.contact.v1",
    ],
    "reporting": [
        "yts.enrolment.school.registered.v1",
        "yts.sessions.session.completed.v1",
        "yts.milestones.milestone.reached.v1",
        "yts.dlq.notifications.yts.sessions.session.completed.v1",
    ],
    "credentials": [
        "yts.enrolment.trainer.erased.v1",
        "yts.milestones.milestone.reached.v1",
        "yts.private.enrolment.school.contact.v1",
        "yts.dlq.enrolment.yts.credentials.credential.issued.v1",
    ],
}
ROGUE = StreamConfig(name="ROGUE", subjects=["rogue.>"])
STREAM_OF = {
    "yts.enrolment": "YTS_ENROLMENT",
    "yts.private": "YTS_PRIVATE",
    "yts.sessions": "YTS_SESSIONS",
    "yts.milestones": "YTS_MILESTONES",
    "yts.credentials": "YTS_CREDENTIALS",
    "yts.dlq": "YTS_DLQ",
}


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecuredNats]:
    nats_server = start_secured(tmp_path_factory.mktemp("nats-services"), "yts-service-users")
    try:
        await provision_as_provisioner(nats_server)
        yield nats_server
    finally:
        nats_server.server.stop()


def test_the_tested_configuration_is_deploy_nats_itself(secured: SecuredNats) -> None:
    deploy_nats = Path(__file__).resolve().parents[2] / "deploy" / "nats"
    assert secured.config_dir == deploy_nats
    assert f"-c {deploy_nats / 'nats-server.conf'}" in " ".join(secured.server.command())


@pytest.mark.parametrize("user", SERVICE_USERS)
async def test_each_service_publishes_its_own_events_and_dead_letters(
    secured: SecuredNats, user: str
) -> None:
    async with as_platform_user(secured, user) as client:
        for subject in MAY_PUBLISH[user]:
            ack = await client.nc.jetstream().publish(
                subject, b"{}", headers={"Nats-Msg-Id": str(uuid.uuid4())}
            )
            assert ack.stream == STREAM_OF[".".join(subject.split(".")[:2])]
        assert client.violations() == []


@pytest.mark.parametrize("user", SERVICE_USERS)
async def test_a_service_cannot_publish_what_another_owns(secured: SecuredNats, user: str) -> None:
    async with as_platform_user(secured, user) as client:
        for subject in MAY_NOT_PUBLISH[user]:
            await client.refuses(subject, client.js.publish, subject, b"{}")


@pytest.mark.parametrize("user", SERVICE_USERS)
async def test_a_service_reaches_exactly_its_own_durable_consumers(
    secured: SecuredNats, user: str
) -> None:
    async with as_platform_user(secured, user) as client:
        for consumer in consumers_of(user):
            info = await client.js.consumer_info(consumer.stream, consumer.durable)
            assert info.config.filter_subject == consumer.filter_subject
        assert client.violations() == []
        for other in [c for c in SERVICE_CONSUMERS if c.service != user]:
            await client.refuses(
                f"$JS.API.CONSUMER.INFO.{other.stream}.{other.durable}",
                client.js.consumer_info,
                other.stream,
                other.durable,
            )
            fetcher = await client.js.pull_subscribe_bind(
                durable=other.durable, stream=other.stream
            )
            await client.refuses(
                f"$JS.API.CONSUMER.MSG.NEXT.{other.stream}.{other.durable}",
                fetcher.fetch,
                1,
                0.5,
            )


@pytest.mark.parametrize("user", [*SERVICE_USERS, PROVISIONER, REBUILDER])
async def test_no_platform_user_can_delete_purge_or_read_a_stream_directly(
    secured: SecuredNats, user: str
) -> None:
    async with as_platform_user(secured, user) as client:
        jsm = client.js
        await client.refuses(
            "$JS.API.STREAM.DELETE.YTS_ENROLMENT", lambda: jsm.delete_stream("YTS_ENROLMENT")
        )
        await client.refuses("$JS.API.STREAM.PURGE.YTS_DLQ", lambda: jsm.purge_stream("YTS_DLQ"))
        await client.refuses(
            f"$JS.API.STREAM.MSG.GET.{PRIVATE_STREAM}", lambda: jsm.get_msg(PRIVATE_STREAM, 1)
        )


@pytest.mark.parametrize("user", SERVICE_USERS)
async def test_no_service_can_create_or_change_streams_or_consumers(
    secured: SecuredNats, user: str
) -> None:
    async with as_platform_user(secured, user) as client:
        jsm = client.js
        await client.refuses(
            "$JS.API.STREAM.CREATE.ROGUE",
            lambda: jsm.add_stream(ROGUE),
        )
        await client.refuses(
            "$JS.API.STREAM.UPDATE.YTS_ENROLMENT",
            lambda: jsm.update_stream(
                StreamConfig(name="YTS_ENROLMENT", subjects=["yts.enrolment.>"], max_age=60)
            ),
        )
        await client.refuses(
            "$JS.API.CONSUMER.CREATE.YTS_PRIVATE.rogue",
            lambda: jsm.add_consumer(
                "YTS_PRIVATE", ConsumerConfig(name="rogue", durable_name="rogue")
            ),
        )
        for own in consumers_of(user):
            await client.refuses(
                f"$JS.API.CONSUMER.DELETE.{own.stream}.{own.durable}",
                jsm.delete_consumer,
                own.stream,
                own.durable,
            )


@pytest.mark.parametrize("user", SERVICE_USERS)
async def test_a_service_cannot_listen_to_events_or_other_users_inboxes(
    secured: SecuredNats, user: str
) -> None:
    others = [u for u in (*SERVICE_USERS, PROVISIONER, REBUILDER, "partner-unesco") if u != user]
    async with as_platform_user(secured, user) as client:
        for subject in [">", "yts.>", *(f"{inbox_prefix(other)}.>" for other in others)]:
            await client.refuses(subject, client.nc.subscribe, subject)


@pytest.mark.parametrize("user", SERVICE_USERS)
async def test_no_service_can_listen_on_the_shared_inbox(secured: SecuredNats, user: str) -> None:
    # Pulled events arrive under each service's own prefix; the shared `_INBOX.` carries other
    # clients' replies and pulled messages, so nobody may subscribe there.
    async with as_platform_user(secured, user) as client:
        for subject in ("_INBOX.>", "_INBOX.*"):
            await client.refuses(subject, client.nc.subscribe, subject)


async def test_provisioner_manages_streams_but_cannot_touch_events(secured: SecuredNats) -> None:
    async with as_platform_user(secured, PROVISIONER) as client:
        assert (await client.js.stream_info("YTS_SESSIONS")).config.subjects == ["yts.sessions.>"]
        await client.refuses(
            "yts.enrolment.school.registered.v1",
            lambda: client.js.publish("yts.enrolment.school.registered.v1"),
        )
        fetcher = await client.js.pull_subscribe_bind(
            durable="notifications-contacts", stream=PRIVATE_STREAM
        )
        await client.refuses(
            f"$JS.API.CONSUMER.MSG.NEXT.{PRIVATE_STREAM}.notifications-contacts",
            lambda: fetcher.fetch(1, timeout=0.5),
        )


async def test_a_wrong_password_or_no_credentials_cannot_connect(secured: SecuredNats) -> None:
    for options in ({"user": "reporting", "password": "not-the-password"}, {}):
        with pytest.raises(Exception, match=r"[Aa]uthorization"):
            await nats.connect(
                secured.url, allow_reconnect=False, max_reconnect_attempts=0, **options
            )


async def test_the_rebuild_user_replays_public_streams_only(secured: SecuredNats) -> None:
    async with as_platform_user(secured, REBUILDER) as client:
        jsm = client.js
        info = await jsm.add_consumer(
            "YTS_SESSIONS",
            ConsumerConfig(
                name=REBUILD_CONSUMER,
                ack_policy=AckPolicy.NONE,
                filter_subject="yts.sessions.>",
                inactive_threshold=30.0,
            ),
        )
        assert info.name == REBUILD_CONSUMER
        await jsm.delete_consumer("YTS_SESSIONS", REBUILD_CONSUMER)
        assert client.violations() == []

        await client.refuses(
            "$JS.API.CONSUMER.CREATE.YTS_PRIVATE.peek.yts.private.>",
            jsm.add_consumer,
            "YTS_PRIVATE",
            ConsumerConfig(name="peek", filter_subject="yts.private.>"),
        )
        await client.refuses(
            f"$JS.API.STREAM.INFO.{PRIVATE_STREAM}", jsm.stream_info, "YTS_PRIVATE"
        )
        await client.refuses(
            "yts.enrolment.school.registered.v1",
            client.js.publish,
            "yts.enrolment.school.registered.v1",
            b"{}",
        )
        await client.refuses("$JS.API.STREAM.CREATE.ROGUE", jsm.add_stream, ROGUE)


class Collected(Replay):
    """A replay that keeps what it is given (no database)."""

    def __init__(self) -> None:
        self.messages: list[Msg] = []

    async def apply(self, messages: Sequence[Msg]) -> None:
        self.messages.extend(messages)


async def test_the_rebuild_user_reaches_only_its_own_consumer(secured: SecuredNats) -> None:
    # Something to replay, published by its owner.
    async with as_platform_user(secured, "enrolment") as owner:
        await owner.js.publish(
            "yts.enrolment.school.registered.v1", b"{}", headers={"Nats-Msg-Id": str(uuid.uuid4())}
        )
    async with as_platform_user(secured, REBUILDER) as client:
        jsm = client.js
        # A crashed rebuild left its consumer behind (another configuration, even): the next
        # rebuild replaces it and replays the whole stream through it, then deletes it.
        await jsm.add_consumer(
            REPORTING_ENROLMENT.stream,
            ConsumerConfig(
                name=REBUILD_CONSUMER,
                deliver_policy=DeliverPolicy.LAST,
                ack_policy=AckPolicy.NONE,
                filter_subject=REPORTING_ENROLMENT.filter_subject,
                inactive_threshold=30.0,
            ),
        )
        held = (await jsm.stream_info(REPORTING_ENROLMENT.stream)).state.messages
        replay = Collected()
        replayed = await replay_stream(jsm, REPORTING_ENROLMENT, replay, Silent(), 100)
        assert replayed == len(replay.messages) == held >= 1
        with pytest.raises(NotFoundError):
            await jsm.consumer_info(REPORTING_ENROLMENT.stream, REBUILD_CONSUMER)
        assert client.violations() == []

        # Every other consumer of the public streams is out of its reach.
        for other in (REPORTING_ENROLMENT, SESSIONS_ROSTER):
            stream, name = other.stream, other.durable
            await client.refuses(
                f"$JS.API.CONSUMER.INFO.{stream}.{name}", jsm.consumer_info, stream, name
            )
            fetcher = await jsm.pull_subscribe_bind(durable=name, stream=stream)
            await client.refuses(
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}", fetcher.fetch, 1, 0.5
            )
            await client.refuses(
                f"$JS.API.CONSUMER.DELETE.{stream}.{name}", jsm.delete_consumer, stream, name
            )
            # Creating a consumer of that name would update the owner's consumer in place.
            await client.refuses(
                f"$JS.API.CONSUMER.CREATE.{stream}.{name}.{other.filter_subject}",
                jsm.add_consumer,
                stream,
                ConsumerConfig(
                    name=name, ack_policy=AckPolicy.NONE, filter_subject=other.filter_subject
                ),
            )
        await client.refuses(
            "$JS.API.CONSUMER.CREATE.YTS_ENROLMENT.peek.yts.enrolment.>",
            jsm.add_consumer,
            "YTS_ENROLMENT",
            ConsumerConfig(name="peek", filter_subject="yts.enrolment.>"),
        )

    async with as_platform_user(secured, PROVISIONER) as admin:
        for other in (REPORTING_ENROLMENT, SESSIONS_ROSTER):
            info = await admin.js.consumer_info(other.stream, other.durable)
            assert info.config.ack_policy == AckPolicy.EXPLICIT  # untouched


@pytest.mark.parametrize("user", SERVICE_USERS)
async def test_each_service_reads_back_and_deletes_its_dead_letters_and_no_event(
    secured: SecuredNats, user: str
) -> None:
    # What a redrive does (yts_chassis.redrive): read a letter back, delete it once applied.
    async with as_platform_user(secured, user) as client:
        subject = f"yts.dlq.{user}.yts.enrolment.school.registered.v1"
        ack = await client.js.publish(subject, b"{}", headers={"Nats-Msg-Id": str(uuid.uuid4())})
        letter = await client.js.get_msg("YTS_DLQ", ack.seq)
        assert letter.subject == subject
        mine = await client.js.get_msg("YTS_DLQ", 1, subject=f"yts.dlq.{user}.>", next=True)
        assert mine.subject is not None
        assert mine.subject.startswith(f"yts.dlq.{user}.")
        assert await client.js.delete_msg("YTS_DLQ", ack.seq)
        assert client.violations() == []
        # Events are another matter: no service reads or deletes a stream's events by number.
        for stream in ("YTS_ENROLMENT", "YTS_SESSIONS", "YTS_CREDENTIALS"):
            await client.refuses(f"$JS.API.STREAM.MSG.GET.{stream}", client.js.get_msg, stream, 1)
            await client.refuses(
                f"$JS.API.STREAM.MSG.DELETE.{stream}", client.js.delete_msg, stream, 1
            )


async def test_the_workspace_reads_recent_events_of_the_audited_streams_only(
    secured: SecuredNats,
) -> None:
    async with as_platform_user(secured, "enrolment") as owner:
        ack = await owner.js.publish(
            "yts.enrolment.school.registered.v1", b"{}", headers={"Nats-Msg-Id": str(uuid.uuid4())}
        )
    async with as_platform_user(secured, "workspace") as client:
        last = (await client.js.stream_info("YTS_ENROLMENT")).state.last_seq
        assert last >= ack.seq
        event = await client.js.get_msg("YTS_ENROLMENT", ack.seq)
        assert event.subject == "yts.enrolment.school.registered.v1"
        for stream in ("YTS_SESSIONS", "YTS_CREDENTIALS"):
            await client.js.stream_info(stream)
        assert client.violations() == []
        # It follows the access bucket as the services do (the audit names tokens by label),
        # and still writes no token.
        access = await client.js.key_value("yts-access")
        watcher = await access.watchall()
        assert await watcher.updates(timeout=2) is None  # the current entries (none) have come
        await watcher.stop()
        assert client.violations() == []
        await client.refuses("$KV.yts-access.token.forged", access.put, "token.forged", b"{}")
        for stream in (PRIVATE_STREAM, "YTS_MILESTONES", "YTS_DLQ"):
            await client.refuses(f"$JS.API.STREAM.INFO.{stream}", client.js.stream_info, stream)
            await client.refuses(f"$JS.API.STREAM.MSG.GET.{stream}", client.js.get_msg, stream, 1)
        await client.refuses(
            "$JS.API.STREAM.MSG.DELETE.YTS_ENROLMENT", client.js.delete_msg, "YTS_ENROLMENT", 1
        )
        await client.refuses(
            "yts.enrolment.school.registered.v1",
            client.js.publish,
            "yts.enrolment.school.registered.v1",
            b"{}",
        )
