"""Partners on a real nats-server run from a copy of deploy/nats, their users added the way
`yts partners add` adds them (consumers by the provisioner, users.conf rewritten, SIGHUP):
a partner reads and acks its filtered events through its own durable consumers, and the server
refuses it everything else with a "permissions violation"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from nats.js.api import ConsumerConfig, StreamConfig
from yts_contracts import CATALOG
from yts_deploy.natsconfig import PROVISIONER
from yts_deploy.partners import Credentials, PartnerRegistry, add_partner, prepare_config_dir

from tests.support.deploy_nats import (
    SecuredNats,
    Watched,
    accepts,
    as_platform_user,
    connected,
    provision_as_provisioner,
    publish_as_owner,
    start_secured,
)
from tests.support.services import eventually


@pytest.fixture(scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[SecuredNats, dict[str, Credentials], int]]:
    folder = tmp_path_factory.mktemp("nats-partners")
    config_dir = prepare_config_dir(folder / "config")
    nats_server = start_secured(folder / "store", "yts-partners", config_dir)
    try:
        await provision_as_provisioner(nats_server)
        published = await publish_as_owner(nats_server, list(CATALOG))
        registry = PartnerRegistry(config_dir)
        partners: dict[str, Credentials] = {}
        async with as_platform_user(nats_server, PROVISIONER) as admin:
            js = admin.nc.jetstream()
            partners["unesco"] = await add_partner(
                js,
                registry,
                "unesco",
                ["yts.sessions.session.completed.v1", "yts.milestones.>"],
                since=None,
                url=nats_server.url,
            )
            partners["city"] = await add_partner(
                js, registry, "city", ["yts.enrolment.>"], since=None, url=nats_server.url
            )
        nats_server.server.reload()
        city = partners["city"]
        await eventually(
            lambda: accepts(city.url, city.user, city.password, city.inbox_prefix), timeout=10
        )
        yield nats_server, partners, published
    finally:
        nats_server.server.stop()


@asynccontextmanager
async def partner_connection(credentials: Credentials) -> AsyncIterator[Watched]:
    async with connected(
        credentials.url, credentials.user, credentials.password, credentials.inbox_prefix
    ) as watched:
        yield watched


def consumer_of(credentials: Credentials, stream: str) -> tuple[str, str]:
    found = [c for c in credentials.consumers if c.stream == stream]
    assert found, f"{credentials.name} has no consumer on {stream}"
    return found[0].stream, found[0].durable


async def test_a_partner_reads_and_acks_only_the_events_its_consumer_filters(world) -> None:
    _, partners, _ = world
    unesco = partners["unesco"]
    async with partner_connection(unesco) as partner:
        stream, durable = consumer_of(unesco, "YTS_SESSIONS")
        subscription = await partner.js.pull_subscribe_bind(durable=durable, stream=stream)
        messages = await subscription.fetch(50, timeout=2)
        assert {m.subject for m in messages} == {"yts.sessions.session.completed.v1"}
        assert len(messages) == 3  # the three session.completed examples, nothing else
        for message in messages:
            await message.ack_sync()
        info = await partner.js.consumer_info(stream, durable)
        assert info.num_ack_pending == 0
        assert info.num_pending == 0

        stream, durable = consumer_of(unesco, "YTS_MILESTONES")
        milestones = await (
            await partner.js.pull_subscribe_bind(durable=durable, stream=stream)
        ).fetch(50, timeout=2)
        assert {m.subject for m in milestones} == {"yts.milestones.milestone.reached.v1"}
        for message in milestones:
            await message.ack_sync()
        assert partner.violations() == []


async def test_a_partner_cannot_publish_any_event(world) -> None:
    _, partners, _ = world
    async with partner_connection(partners["unesco"]) as partner:
        for subject in (
            "yts.sessions.session.completed.v1",
            "yts.enrolment.trainer.enrolled.v1",
            "yts.dlq.partner.anything",
        ):
            await partner.refuses(subject, partner.js.publish, subject, b"{}")


async def test_a_partner_cannot_create_or_widen_a_consumer(world) -> None:
    _, partners, _ = world
    unesco = partners["unesco"]
    stream, durable = consumer_of(unesco, "YTS_SESSIONS")
    async with partner_connection(unesco) as partner:
        jsm = partner.js
        await partner.refuses(
            "$JS.API.CONSUMER.CREATE.YTS_SESSIONS.mine",
            lambda: jsm.add_consumer(stream, ConsumerConfig(name="mine", durable_name="mine")),
        )
        # Its own consumer with a wider filter: the filter is what limits what it sees.
        await partner.refuses(
            f"$JS.API.CONSUMER.CREATE.YTS_SESSIONS.{durable}.yts.sessions.>",
            lambda: jsm.add_consumer(
                stream,
                ConsumerConfig(name=durable, durable_name=durable, filter_subject="yts.sessions.>"),
            ),
        )
        await partner.refuses(
            "$JS.API.STREAM.CREATE.MINE",
            lambda: jsm.add_stream(StreamConfig(name="MINE", subjects=["mine.>"])),
        )
        await partner.refuses(
            f"$JS.API.CONSUMER.DELETE.YTS_SESSIONS.{durable}",
            lambda: jsm.delete_consumer(stream, durable),
        )


async def test_a_partner_cannot_read_the_private_stream(world) -> None:
    _, partners, _ = world
    async with partner_connection(partners["city"]) as partner:
        jsm = partner.js
        contacts = await jsm.pull_subscribe_bind(
            durable="notifications-contacts", stream="YTS_PRIVATE"
        )
        await partner.refuses(
            "$JS.API.CONSUMER.MSG.NEXT.YTS_PRIVATE.notifications-contacts",
            lambda: contacts.fetch(1, timeout=1),
        )
        await partner.refuses(
            "$JS.API.CONSUMER.CREATE.YTS_PRIVATE.peek",
            lambda: jsm.add_consumer(
                "YTS_PRIVATE", ConsumerConfig(name="peek", durable_name="peek")
            ),
        )
        await partner.refuses(
            "$JS.API.STREAM.MSG.GET.YTS_PRIVATE", lambda: jsm.get_msg("YTS_PRIVATE", 1)
        )
        await partner.refuses("yts.private.>", lambda: partner.nc.subscribe("yts.private.>"))


async def test_a_partner_cannot_read_another_partners_consumer(world) -> None:
    _, partners, _ = world
    stream, durable = consumer_of(partners["city"], "YTS_ENROLMENT")
    async with partner_connection(partners["unesco"]) as partner:
        jsm = partner.js
        others = await jsm.pull_subscribe_bind(durable=durable, stream=stream)
        await partner.refuses(
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}", lambda: others.fetch(1, timeout=1)
        )
        await partner.refuses(
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            lambda: jsm.consumer_info(stream, durable),
        )
        # Nor another's service consumer on a public stream.
        await partner.refuses(
            "$JS.API.CONSUMER.INFO.YTS_ENROLMENT.reporting-enrolment",
            lambda: jsm.consumer_info("YTS_ENROLMENT", "reporting-enrolment"),
        )


async def test_a_partner_listens_only_on_its_own_inbox(world) -> None:
    _, partners, _ = world
    unesco, city = partners["unesco"], partners["city"]
    async with partner_connection(unesco) as partner:
        for subject in (">", "yts.>", "_INBOX.>", f"{city.inbox_prefix}.>", "_INBOX_reporting.>"):
            await partner.refuses(subject, partner.nc.subscribe, subject)


async def test_a_partner_without_its_inbox_prefix_gets_no_answers(world) -> None:
    _, partners, _ = world
    unesco = partners["unesco"]
    stream, durable = consumer_of(unesco, "YTS_SESSIONS")
    # The default prefix (_INBOX) is not the partner's: replies could never reach it.
    async with connected(unesco.url, unesco.user, unesco.password, "_INBOX") as partner:
        lookup = asyncio.ensure_future(partner.js.consumer_info(stream, durable))
        try:
            await eventually(lambda: _inbox_subscription_refused(partner), timeout=5)
        finally:
            lookup.cancel()


async def _inbox_subscription_refused(partner: Watched) -> bool:
    return any('subscription to "_inbox.' in e.lower() for e in partner.violations())


def test_partner_users_are_written_with_bcrypt_hashes_only(world) -> None:
    secured, partners, _ = world
    users_conf = (secured.config_dir / "users.conf").read_text(encoding="utf-8")
    registry = (secured.config_dir / "partners.json").read_text(encoding="utf-8")
    for credentials in partners.values():
        assert credentials.password not in users_conf
        assert credentials.password not in registry
        assert f'user: "{credentials.user}"' in users_conf
    assert users_conf.count('password: "$2b$') == len(partners)
    assert Path(secured.config_dir / "partners.json").stat().st_mode & 0o077 == 0
