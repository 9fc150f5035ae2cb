"""``yts people``: accounts go into the workspace's bucket of the system the state folder names
(through the workspace's own command line, with the settings ``yts up`` kept), a new account is
mailed a sign-in link, a coordinator is bound only to a school enrolment knows (a real HTTP
server on loopback answers as enrolment), list shows everyone, revoke refuses the person on
every service (the access bucket's ``person.<id>``) and ends their sessions."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner
from yts_chassis.access.buckets import ACCESS_BUCKET
from yts_deploy.cli import app
from yts_deploy.runner import keep_workspace_settings
from yts_workspace.buckets import PEOPLE_BUCKET
from yts_workspace.people import People, Person

from tests.deploy.test_tokens_cli import ADMIN, KNOWN_SCHOOL, Enrolment
from tests.support.notifications_mailbox import MailBox


@pytest.fixture(scope="module")
def mailbox() -> Iterator[MailBox]:
    box = MailBox().start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def state(tmp_path: Path, provisioned: str, mailbox: MailBox) -> Iterator[Path]:
    """A state folder as `yts up` leaves it: its admin token and the workspace's settings."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Enrolment)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "admin.token").write_text(ADMIN + "\n")
    keep_workspace_settings(
        folder,
        {
            "YTS_WORKSPACE_NATS_URL": provisioned,
            "YTS_WORKSPACE_PUBLIC_URL": "http://127.0.0.1:8000",
            "YTS_WORKSPACE_SMTP_PORT": str(mailbox.port),
            "YTS_WORKSPACE_ENROLMENT_URL": f"http://127.0.0.1:{server.server_address[1]}",
        },
    )
    try:
        yield folder
    finally:
        server.shutdown()
        server.server_close()


def people(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["people", *args])
    return result.exit_code, result.output


def kept(nats_url: str) -> list[Person]:
    async def read() -> list[Person]:
        nc = await nats.connect(nats_url)
        try:
            return await People(await nc.jetstream().key_value(PEOPLE_BUCKET)).all()
        finally:
            await nc.close()

    return asyncio.run(read())


def access_entry(nats_url: str, key: str) -> Any:
    async def read() -> Any:
        nc = await nats.connect(nats_url)
        try:
            entry = await (await nc.jetstream().key_value(ACCESS_BUCKET)).get(key)
            return json.loads(entry.value or b"{}")
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_person_added_is_kept_and_mailed_a_sign_in_link(
    state: Path, provisioned: str, mailbox: MailBox
) -> None:
    email = f"staff-{uuid.uuid4().hex[:8]}@unesco.example"
    code, output = people(
        "add", "--email", email, "--name", "Dana K.", "--role", "staff", "--locale", "ru",
        "--state-dir", str(state),
    )  # fmt: skip
    assert code == 0, output
    [person] = [p for p in kept(provisioned) if p.email == email]
    assert (person.name, person.role.value, person.language) == ("Dana K.", "admin", "ru")
    [mail] = mailbox.to(email)
    assert "http://127.0.0.1:8000/sign-in/link?token=" in mail.text
    # An address has one account.
    code, output = people(
        "add", "--email", email.upper(), "--name", "Dana", "--role", "staff",
        "--state-dir", str(state),
    )  # fmt: skip
    assert code == 1
    assert "has an account already" in output


def test_a_coordinator_is_bound_only_to_a_school_enrolment_knows(
    state: Path, provisioned: str
) -> None:
    email = f"deputy-{uuid.uuid4().hex[:8]}@school.example"
    common = ["--email", email, "--name", "Aigerim", "--role", "coordinator"]
    code, output = people(
        "add", *common, "--school-id", str(uuid.uuid4()), "--state-dir", str(state)
    )
    assert code == 2
    assert "enrolment has no school" in output
    code, output = people("add", *common, "--state-dir", str(state))
    assert code == 2
    assert "belongs to a school" in output
    assert email not in [p.email for p in kept(provisioned)]
    code, output = people(
        "add", *common, "--school-id", str(KNOWN_SCHOOL), "--no-link", "--state-dir", str(state)
    )
    assert code == 0, output
    [person] = [p for p in kept(provisioned) if p.email == email]
    assert person.school_id == KNOWN_SCHOOL


def test_list_shows_everyone_and_revoke_refuses_the_person_everywhere(
    state: Path, provisioned: str, mailbox: MailBox
) -> None:
    email = f"leaver-{uuid.uuid4().hex[:8]}@unesco.example"
    code, output = people(
        "add", "--email", email, "--name", "Leaver", "--role", "staff", "--no-link",
        "--state-dir", str(state),
    )  # fmt: skip
    assert code == 0, output
    code, listed = people("list", "--state-dir", str(state))
    assert code == 0
    [line] = [line for line in listed.splitlines() if email in line]
    assert "active" in line
    code, output = people("revoke", email, "--state-dir", str(state))
    assert code == 0, output
    [person] = [p for p in kept(provisioned) if p.email == email]
    assert person.revoked_at is not None
    assert access_entry(provisioned, f"person.{person.id}")["reason"] == "access revoked"
    code, listed = people("list", "--json", "--state-dir", str(state))
    [shown] = [json.loads(line) for line in listed.splitlines() if email in line]
    assert shown["revoked_at"] is not None
    # A revoked person gets no new link.
    code, output = people("link", "--email", email, "--state-dir", str(state))
    assert code == 1
    assert "revoked" in output
    assert mailbox.to(email) == []


def test_a_state_folder_where_no_workspace_was_started_is_refused(tmp_path: Path) -> None:
    code, output = people("list", "--state-dir", str(tmp_path))
    assert code == 2
    assert "no workspace was started" in output
