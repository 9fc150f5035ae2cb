"""The issue's "done when", as a newcomer would do it: `yts up --demo` (small size, to keep the
suite quick) fills the system through the API and says where to look, the dashboard and the
indicators show the programme, and a partner added with `yts partners add` reads the demo's
events with the contracts' example consumer and the credentials it was given."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

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

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and gauge("pending") + gauge("sending") > 0:
        time.sleep(0.5)
    assert gauge("pending") + gauge("sending") == 0
    assert gauge("failed") == 0
    listing = httpx.get(f"{catcher}/api/mails", timeout=10).json()
    assert listing["total"] > 0
    first = listing["items"][0]
    page = httpx.get(f"{catcher}/mails/{first['id']}", timeout=10)
    assert page.status_code == 200
    assert (demo_system.state_dir / "mail" / f"{first['id']}.eml").exists()


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_partner_receives_a_verified_webhook_on_a_loopback_receiver(
    demo_system: Running,
) -> None:
    """As docs/partners.md says: subscribe (programme staff), then verify each POST with the
    secret and the Standard Webhooks library; `yts up` accepts a receiver on 127.0.0.1."""
    from standardwebhooks import Webhook

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    auth = {"Authorization": f"Bearer {demo_system.token}"}
    try:
        subscribed = httpx.post(
            f"{demo_system.url_of('notifications')}/v1/webhook-subscriptions",
            headers=auth,
            json={
                "partner": "Dialogue of Cultures",
                "url": f"http://127.0.0.1:{server.server_address[1]}/hooks",
                "event_types": ["yts.enrolment.trainer.enrolled.v1"],
            },
            timeout=10,
        )
        assert subscribed.status_code == 201, subscribed.text
        enrolment = demo_system.url_of("enrolment")
        school = httpx.get(f"{enrolment}/v1/schools", headers=auth, timeout=10).json()["items"][0]
        cohort = httpx.get(f"{enrolment}/v1/cohorts", headers=auth, timeout=10).json()[-1]
        enrolled = httpx.post(
            f"{enrolment}/v1/trainers",
            headers=auth,
            json=trainer(school["id"], cohort["id"], first_name="Webhook", last_name="Test"),
            timeout=10,
        )
        assert enrolled.status_code == 201, enrolled.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not Receiver.received:
            time.sleep(0.2)
    finally:
        server.shutdown()
        server.server_close()
    assert Receiver.received, "no webhook arrived"
    headers, body = Receiver.received[0]
    verified = Webhook(subscribed.json()["secret"]).verify(body, headers)
    assert verified["type"] == "yts.enrolment.trainer.enrolled.v1"
    assert verified["data"]["trainer_id"] == enrolled.json()["id"]
    assert "Webhook" not in body.decode()  # names stay in enrolment
