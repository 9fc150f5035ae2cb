"""The issue's "done when", as a newcomer would do it: `yts up --demo` (small size, to keep the
suite quick) fills the system through the API and says where to look, the dashboard and the
indicators show the programme, and a partner added with `yts partners add` reads the demo's
events with the contracts' example consumer and the credentials it was given."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from yts_deploy.cli import app
from yts_deploy.demo import indicator_value
from yts_deploy.natsconfig import PROVISIONER, LocalAccess, admin_connect
from yts_deploy.natsserver import free_port

from tests.support.deploy_nats import wait_until_connectable
from tests.support.deploy_processes import (
    example_consumer_lines,
    interrupt,
    printed_environment,
    read_lines,
)
from tests.support.enrolment_api import trainer
from tests.support.notifications_partner import Partner, Receipt
from tests.support.services import eventually, eventually_sync

READY = "Ctrl-C stops everything."


@dataclass
class Running:
    state_dir: Path
    output: list[str]

    def url_of(self, service: str) -> str:
        line = next(line for line in self.output if line.startswith(service + " "))
        return line.split()[1]

    @property
    def token(self) -> str:
        return next(line for line in self.output if line.startswith("admin token")).split()[-1]


@pytest.fixture(scope="module")
def demo_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    state_dir = tmp_path_factory.mktemp("yts-up-demo")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yts_deploy",
            "up",
            "--demo",
            "--demo-size",
            "small",
            "--state-dir",
            str(state_dir),
            "--nats-port",
            str(free_port()),
            "--http-port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = read_lines(process, until=READY, timeout=100)
    try:
        assert lines, "yts up printed nothing"
        assert READY in lines[-1], "\n".join(lines)
        yield Running(state_dir, lines)
    finally:
        rest = interrupt(process)
        assert "stopped" in rest, rest


def test_the_demo_says_what_it_loaded_and_where_to_look(demo_system: Running) -> None:
    text = "\n".join(demo_system.output)
    # The small programme: a school in each of 4 districts (see test_demo.py).
    assert "demo programme loaded: 4 schools in 4 districts" in text, text
    assert "where to look:" in text
    assert "dashboard" in text
    assert "yts partners add" in text


def test_the_dashboard_and_the_indicators_show_the_programme(demo_system: Running) -> None:
    reporting = demo_system.url_of("reporting")
    auth = {"Authorization": f"Bearer {demo_system.token}"}
    indicators = httpx.get(f"{reporting}/v1/indicators", headers=auth, timeout=10).json()
    assert indicator_value(indicators, "schools_participating") == 4
    assert indicator_value(indicators, "trainers_enrolled") >= 16
    assert indicator_value(indicators, "sessions_delivered") >= 1
    assert indicator_value(indicators, "peer_participations") >= 12
    dashboard = httpx.get(f"{reporting}/", headers=auth, timeout=10)
    assert dashboard.status_code == 200
    assert "text/html" in dashboard.headers["content-type"]


def test_every_certified_trainer_of_the_demo_holds_a_credential_that_verifies(
    demo_system: Running,
) -> None:
    reporting = demo_system.url_of("reporting")
    issuer = demo_system.url_of("credentials")
    auth = {"Authorization": f"Bearer {demo_system.token}"}
    indicators = httpx.get(f"{reporting}/v1/indicators", headers=auth, timeout=10).json()
    certified = indicator_value(indicators, "trainers_certified")
    assert certified >= 1

    def issued() -> list[dict]:
        answer = httpx.get(
            f"{issuer}/v1/credentials",
            params={"achievement": "certified", "limit": 500},
            headers=auth,
            timeout=10,
        )
        items = list(answer.json()["items"])
        return items if len(items) == certified else []

    for credential in eventually_sync(issued, timeout=60):
        token = httpx.get(f"{issuer}/credentials/{credential['credential_id']}.jwt", timeout=10)
        verdict = httpx.post(
            f"{issuer}/v1/verifications", json={"credential": token.text}, timeout=10
        ).json()["verdict"]
        assert verdict == "valid", credential


def test_a_partner_reads_the_demos_events_with_the_printed_credentials(
    demo_system: Running,
) -> None:
    added = CliRunner().invoke(
        app,
        [
            "partners",
            "add",
            "unesco",
            "--types",
            "yts.sessions.>",
            "--state-dir",
            str(demo_system.state_dir),
        ],
    )
    assert added.exit_code == 0, added.output
    environment = printed_environment(added.output)
    assert environment["YTS_PARTNER_STREAM"] == "YTS_SESSIONS"
    expected = asyncio.run(stream_size(demo_system.state_dir, "YTS_SESSIONS"))
    assert expected > 0
    wait_until_connectable(environment)

    lines, errors = example_consumer_lines(environment, wanted=expected, timeout=60)

    assert len(lines) == expected, errors
    types = {line.split()[1] for line in lines}
    assert "yts.sessions.session.completed.v1" in types
    assert "yts.sessions.module.completed.v1" in types
    assert all(json.loads(line.split(" ", 4)[-1]) for line in lines)
    assert "permissions violation" not in errors


async def stream_size(state_dir: Path, stream: str) -> int:
    access = LocalAccess.load(state_dir / "nats")
    assert access is not None
    nc = await admin_connect(access.url, PROVISIONER, access.passwords[PROVISIONER])
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


def test_the_demos_mail_is_caught_readable_and_none_is_left_pending(demo_system: Running) -> None:
    """Under `yts up` the coordinators' mail goes to the local catcher, not to a port where
    nothing listens: the demo's mails can be read there, and none stays pending or fails."""
    catcher = demo_system.url_of("mail")
    notifications = demo_system.url_of("notifications")

    def gauge(status: str) -> float:
        metrics = httpx.get(f"{notifications}/metrics", timeout=10).text
        prefix = f'yts_notification_deliveries{{channel="mail",status="{status}"}} '
        values = [
            float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix)
        ]
        return values[0] if values else 0.0

    eventually_sync(lambda: gauge("pending") + gauge("sending") == 0, timeout=60, interval=0.5)
    assert gauge("failed") == 0
    listing = httpx.get(f"{catcher}/api/mails", timeout=10).json()
    assert listing["total"] > 0
    first = listing["items"][0]
    page = httpx.get(f"{catcher}/mails/{first['id']}", timeout=10)
    assert page.status_code == 200
    assert (demo_system.state_dir / "mail" / f"{first['id']}.eml").exists()


async def test_a_partner_receives_a_verified_webhook_on_a_loopback_receiver(
    demo_system: Running,
) -> None:
    """As docs/partners.md says: subscribe (programme staff), then verify each POST with the
    secret and the Standard Webhooks library; `yts up` accepts a receiver on 127.0.0.1."""
    partner = await Partner("dialogue-of-cultures").start()
    auth = {"Authorization": f"Bearer {demo_system.token}"}
    try:
        async with httpx.AsyncClient(headers=auth, timeout=10) as client:
            subscribed = await client.post(
                f"{demo_system.url_of('notifications')}/v1/webhook-subscriptions",
                json={
                    "partner": "Dialogue of Cultures",
                    "url": partner.url,
                    "event_types": ["yts.enrolment.trainer.enrolled.v1"],
                },
            )
            assert subscribed.status_code == 201, subscribed.text
            enrolment = demo_system.url_of("enrolment")
            school = (await client.get(f"{enrolment}/v1/schools")).json()["items"][0]
            cohort = (await client.get(f"{enrolment}/v1/cohorts")).json()[-1]
            enrolled = await client.post(
                f"{enrolment}/v1/trainers",
                json=trainer(school["id"], cohort["id"], first_name="Webhook", last_name="Test"),
            )
        assert enrolled.status_code == 201, enrolled.text
        trainer_id = enrolled.json()["id"]

        async def arrived() -> list[Receipt]:
            return partner.about(trainer_id)

        received = await eventually(arrived, timeout=30, interval=0.2)
    finally:
        await partner.stop()
    verified = received[0].verified(subscribed.json()["secret"])
    assert verified["type"] == "yts.enrolment.trainer.enrolled.v1"
    assert verified["data"]["trainer_id"] == trainer_id
    assert "Webhook" not in received[0].body.decode()  # names stay in enrolment


def test_the_demo_leaves_a_staff_and_a_coordinator_account_whose_links_sign_them_in(
    demo_system: Running,
) -> None:
    """`make demo`'s promise: two people of the workspace, each with a sign-in link in the
    mail catcher that opens their pages."""
    text = "\n".join(demo_system.output)
    assert "workspace accounts: staff@yts.example" in text, text
    workspace = demo_system.url_of("workspace")

    def link_to(address: str) -> str | None:
        for path in sorted((demo_system.state_dir / "mail").glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == address:
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                found = re.search(r"http://\S+/sign-in/link\?token=\S+", body.get_content())
                if found:
                    return found.group(0)
        return None

    for address, lands_on in (
        ("staff@yts.example", "/staff"),
        ("coordinator@yts.example", "/schools/"),
    ):
        link = link_to(address)
        assert link is not None, address
        assert link.startswith(workspace)
        with httpx.Client(follow_redirects=True, timeout=10) as browser:
            form = browser.get(link)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            token = re.search(r'name="token" value="([^"]+)"', form.text)
            assert csrf is not None
            assert token is not None
            signed_in = browser.post(
                f"{workspace}/sign-in/link",
                data={"csrf_token": csrf.group(1), "token": token.group(1)},
            )
            assert signed_in.status_code == 200
            assert lands_on in str(signed_in.url), signed_in.url
