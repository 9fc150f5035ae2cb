"""`yts partners` against a real nats-server run from a copy of deploy/nats: the printed
credentials work in the contracts' example consumer (run as a partner would run it), `--since`
starts a consumer at a time, and rotating or removing a partner ends the old access at the
reload the command triggers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner
from yts_deploy.cli import app
from yts_deploy.natsconfig import PROVISIONER
from yts_deploy.partners import prepare_config_dir

from tests.support.deploy_nats import (
    SecuredNats,
    accepts,
    connected,
    provision_as_provisioner,
    publish_as_owner,
    start_secured,
    wait_until_connectable,
)
from tests.support.deploy_processes import example_consumer_lines, printed_environment
from tests.support.services import eventually_sync

SESSION_TYPES = [
    "yts.sessions.module.completed.v1",
    "yts.sessions.session.completed.v1",
    "yts.sessions.session.cancelled.v1",
]


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecuredNats]:
    config_dir = prepare_config_dir(tmp_path / "config")
    nats_server = start_secured(tmp_path / "store", "yts-partners-cli", config_dir)
    try:
        asyncio.run(provision_as_provisioner(nats_server))
        yield nats_server
    finally:
        nats_server.server.stop()


def yts(secured: SecuredNats, *args: str) -> str:
    """Run `yts ...` aimed at the test server, as an operator of a compose deployment would."""
    reloads = args[1] in ("add", "rotate", "remove")
    pid_file = ["--pid-file", str(secured.server.pid_file)] if reloads else []
    # Kits go to the test's folder, not to .state of the working directory.
    state_dir = ["--state-dir", str(secured.config_dir.parent / "state")]
    result = CliRunner().invoke(
        app,
        [
            *args,
            "--config-dir",
            str(secured.config_dir),
            "--nats-url",
            secured.url,
            *state_dir,
            *pid_file,
        ],
        env={"YTS_NATS_PROVISIONER_PASSWORD": secured.passwords[PROVISIONER]},
    )
    assert result.exit_code == 0, result.output
    return result.output


def connects(url: str, user: str, password: str, prefix: str) -> bool:
    return asyncio.run(accepts(url, user, password, prefix))


def test_the_example_consumer_prints_the_events_with_the_printed_credentials(
    secured: SecuredNats,
) -> None:
    asyncio.run(publish_as_owner(secured, [*SESSION_TYPES, "yts.enrolment.trainer.enrolled.v1"]))
    output = yts(secured, "partners", "add", "unesco", "--types", "yts.sessions.>")
    assert "password" in output
    assert "_INBOX_partner-unesco" in output
    environment = printed_environment(output)
    assert environment["YTS_PARTNER_DURABLE"] == "partner-unesco-sessions"

    wait_until_connectable(environment)
    lines, errors = example_consumer_lines(environment, wanted=7)
    types = [line.split()[1] for line in lines]
    assert len(lines) == 7, (lines, errors)
    assert sorted(set(types)) == sorted(SESSION_TYPES), errors
    assert "permissions violation" not in errors


def test_since_starts_the_partners_consumer_at_that_time(secured: SecuredNats) -> None:
    asyncio.run(publish_as_owner(secured, ["yts.sessions.session.cancelled.v1"]))
    time.sleep(0.05)  # the cut-off lies strictly between the two batches
    cut_off = datetime.now(UTC)
    time.sleep(0.05)
    asyncio.run(publish_as_owner(secured, ["yts.sessions.session.completed.v1"]))

    output = yts(
        secured,
        "partners",
        "add",
        "city",
        "--types",
        "yts.sessions.>",
        "--since",
        cut_off.isoformat(),
        "--json",
    )

    credentials = json.loads(output[output.index("{") :])

    async def fetch_subjects() -> list[str]:
        async with connected(
            credentials["url"],
            credentials["user"],
            credentials["password"],
            credentials["inbox_prefix"],
        ) as partner:
            consumer = credentials["consumers"][0]
            subscription = await partner.js.pull_subscribe_bind(
                durable=consumer["durable"], stream=consumer["stream"]
            )
            return [m.subject for m in await subscription.fetch(20, timeout=2)]

    eventually_sync(
        lambda: connects(
            credentials["url"],
            credentials["user"],
            credentials["password"],
            credentials["inbox_prefix"],
        )
    )
    assert asyncio.run(fetch_subjects()) == ["yts.sessions.session.completed.v1"] * 3


def test_rotating_then_removing_a_partner_ends_the_old_access(secured: SecuredNats) -> None:
    first = printed_environment(
        yts(secured, "partners", "add", "education", "--types", "yts.milestones.>")
    )
    user, prefix = first["YTS_PARTNER_NATS_USER"], first["YTS_PARTNER_INBOX_PREFIX"]
    eventually_sync(lambda: connects(secured.url, user, first["YTS_PARTNER_NATS_PASSWORD"], prefix))

    second = printed_environment(yts(secured, "partners", "rotate", "education"))
    eventually_sync(
        lambda: connects(secured.url, user, second["YTS_PARTNER_NATS_PASSWORD"], prefix)
    )
    assert not connects(secured.url, user, first["YTS_PARTNER_NATS_PASSWORD"], prefix)
    assert "education" in yts(secured, "partners", "list")

    yts(secured, "partners", "remove", "education")
    eventually_sync(
        lambda: not connects(secured.url, user, second["YTS_PARTNER_NATS_PASSWORD"], prefix)
    )
    assert "no partners" in yts(secured, "partners", "list")


def test_a_partner_cannot_be_given_the_private_stream(secured: SecuredNats) -> None:
    result = CliRunner().invoke(
        app,
        [
            "partners",
            "add",
            "nosy",
            "--types",
            "yts.private.>",
            "--config-dir",
            str(secured.config_dir),
            "--nats-url",
            secured.url,
        ],
        env={"YTS_NATS_PROVISIONER_PASSWORD": secured.passwords[PROVISIONER]},
    )
    assert result.exit_code == 2
    assert "partners may not read" in result.output
    assert "nosy" not in (secured.config_dir / "users.conf").read_text(encoding="utf-8")
