"""The example partner consumer (contracts/examples/partner_consumer.py, the guide's code) run
as a partner runs it, against a real nats-server and credentials from `yts partners add`: it
waits out an idle stream whatever kind of timeout nats-py raises, rides out a server that goes
away for a while, stops cleanly on Ctrl-C, and ends at once, in one line, on a wrong password
or a consumer that is not its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.partner_rig import PartnerRig, partner_rig, running_consumer
from tests.support.deploy_nats import publish_as_owner, wait_until_connectable
from tests.support.deploy_processes import printed_environment

COMPLETED = "yts.sessions.session.completed.v1"
MODULES = "yts.sessions.module.completed.v1"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[PartnerRig]:
    with partner_rig(tmp_path, "yts-partner-consumer") as rig:
        yield rig


def partner_environment(rig: PartnerRig, name: str) -> dict[str, str]:
    output = rig.yts("partners", "add", name, "--types", "yts.sessions.>", "--no-kit")
    environment = printed_environment(output)
    wait_until_connectable(environment)
    return {**environment, "YTS_PARTNER_FETCH_TIMEOUT": "1"}


def publish(rig: PartnerRig, event_type: str) -> int:
    return asyncio.run(publish_as_owner(rig.nats, [event_type]))


def test_the_consumer_waits_out_an_idle_stream_then_prints_new_events(
    rig: PartnerRig, tmp_path: Path
) -> None:
    environment = partner_environment(rig, "idle")
    # Every timed-out fetch raises asyncio's plain TimeoutError, as nats-py 2.16 sometimes does.
    with running_consumer(tmp_path, environment, plain_timeouts=True) as consumer:
        consumer.wait_for_stderr("reading YTS_SESSIONS through partner-idle-sessions")
        time.sleep(5)  # about five fetches time out on the idle stream
        assert consumer.process.poll() is None, consumer.stderr

        published = publish(rig, COMPLETED)
        lines = consumer.events(wanted=published)
        consumer.assert_stops_cleanly()

    assert [line.split()[1] for line in lines] == [COMPLETED] * published, consumer.stderr


def test_the_consumer_reconnects_when_the_server_comes_back(
    rig: PartnerRig, tmp_path: Path
) -> None:
    environment = partner_environment(rig, "patient")
    with running_consumer(tmp_path, environment) as consumer:
        consumer.wait_for_stderr("reading YTS_SESSIONS")
        published_before = publish(rig, MODULES)
        before = consumer.events(wanted=published_before)

        rig.nats.server.stop()  # maintenance: the server is away for a few seconds
        consumer.wait_for_stderr("reconnecting")
        time.sleep(3)
        rig.nats.server.start()  # same port, same store: the stream and consumer are kept
        wait_until_connectable(environment)
        consumer.wait_for_stderr("reconnected")

        published_after = publish(rig, COMPLETED)
        after = consumer.events(wanted=published_after)
        consumer.assert_stops_cleanly()

    assert [line.split()[1] for line in before] == [MODULES] * published_before, consumer.stderr
    assert [line.split()[1] for line in after] == [COMPLETED] * published_after, consumer.stderr


def test_a_wrong_password_ends_the_consumer_at_once_with_one_clear_line(
    rig: PartnerRig, tmp_path: Path
) -> None:
    environment = {**partner_environment(rig, "typo"), "YTS_PARTNER_NATS_PASSWORD": "wrong"}
    started = time.monotonic()
    with running_consumer(tmp_path, environment) as consumer:
        exit_code = consumer.exit_code_within(10)  # None: still trying after 10 s
        took = time.monotonic() - started

    assert exit_code == 2, consumer.stderr[-2000:]
    assert took < 10
    assert consumer.stderr.splitlines() == [
        "partner_consumer: the server refused user 'partner-typo': wrong user or password "
        "(programme staff can give you a new one: yts partners rotate)"
    ]


def test_a_consumer_that_is_not_the_partners_ends_it_at_once(
    rig: PartnerRig, tmp_path: Path
) -> None:
    environment = {
        **partner_environment(rig, "nosy"),
        "YTS_PARTNER_DURABLE": "partner-other-sessions",
    }
    with running_consumer(tmp_path, environment) as consumer:
        exit_code = consumer.exit_code_within(10)

    assert exit_code == 2, consumer.stderr[-2000:]
    [line] = consumer.stderr.splitlines()
    assert "permissions violation" in line
    assert line.endswith(
        "check the stream and consumer you were given (YTS_SESSIONS, partner-other-sessions)"
    )
