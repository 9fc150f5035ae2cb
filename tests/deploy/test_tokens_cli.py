"""``yts tokens``: create writes to the access bucket of the running system (never the token,
only its hash), binds coordinators only to schools that enrolment knows (asked over HTTP, here
a real server on loopback), gives every token an expiry; list shows every token without its
secret; revoke takes an id or a label."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner
from yts_chassis.access import StaticTokens, TokenRecord, hash_token
from yts_chassis.access.records import token_key
from yts_deploy.cli import app
from yts_deploy.natsconfig import PROVISIONER, LocalAccess

KNOWN_SCHOOL = uuid.uuid4()
ADMIN = "admin-token-of-this-state"


class Enrolment(BaseHTTPRequestHandler):
    """Answers ``GET /v1/schools/{id}`` as enrolment does, for the admin token only."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {ADMIN}":
            self.send_response(401)
        elif self.path == f"/v1/schools/{KNOWN_SCHOOL}":
            self.send_response(200)
        else:
            self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def enrolment_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Enrolment)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def state(tmp_path: Path, provisioned: str) -> Path:
    """A state folder as `yts up` leaves it: its admin token and how to reach its NATS."""
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "admin.token").write_text(ADMIN + "\n")
    LocalAccess(
        url=provisioned,
        config_dir=folder / "nats" / "config",
        pid_file=folder / "nats" / "nats.pid",
        passwords={PROVISIONER: "unused-by-a-test-server"},
    ).save(folder / "nats")
    return folder


@pytest.fixture(autouse=True)
def _no_server_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("YTS_NATS_URL", "YTS_ADMIN_TOKEN", "YTS_NATS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def tokens(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["tokens", *args])
    return result.exit_code, result.output


def stored(nats_url: str) -> dict[str, TokenRecord]:
    """The bucket's tokens, by the key they are kept under. (The tests are not async: the
    command runs its own event loop, as from a shell.)"""

    async def read() -> dict[str, TokenRecord]:
        nc = await nats.connect(nats_url)
        try:
            found = await (await StaticTokens.of(nc.jetstream()))._entries()
        finally:
            await nc.close()
        return {key: record for key, record, _ in found}

    return asyncio.run(read())


def test_a_token_goes_into_the_bucket_of_the_system_the_state_folder_names(
    state: Path, provisioned: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # ./.state is not the system's folder
    label = f"UNESCO office {uuid.uuid4()}"
    code, output = tokens(
        "create", "--role", "partner", "--label", label, "--state-dir", str(state)
    )
    assert code == 0, output
    token = output.strip().splitlines()[-1]
    record = stored(provisioned)[token_key(hash_token(token))]
    assert (record.label, record.revoked_at) == (label, None)
    assert record.expires_at - record.created_at == timedelta(days=365)
    assert token not in str(stored(provisioned))
    assert not (tmp_path / ".state").exists()


def test_a_state_folder_where_no_system_was_started_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = tokens("create", "--role", "partner", "--label", "UNESCO office")
    assert code == 2
    assert "no system was started" in output


def test_a_coordinator_is_bound_only_to_a_school_enrolment_knows(
    state: Path, provisioned: str, enrolment_url: str
) -> None:
    label = f"deputy {uuid.uuid4()}"
    common = ["--role", "coordinator", "--label", label, "--state-dir", str(state)]
    code, output = tokens(
        "create", *common, "--school", str(uuid.uuid4()), "--enrolment-url", enrolment_url
    )
    assert code == 2
    assert "enrolment has no school" in output
    assert label not in [r.label for r in stored(provisioned).values()]

    code, output = tokens(
        "create", *common, "--school", str(KNOWN_SCHOOL), "--enrolment-url", enrolment_url
    )
    assert code == 0, output
    [record] = [r for r in stored(provisioned).values() if r.label == label]
    assert record.school_id == KNOWN_SCHOOL


def test_an_unreachable_enrolment_is_said_and_nothing_is_written(
    state: Path, provisioned: str
) -> None:
    from yts_deploy.natsserver import free_port

    label = f"deputy {uuid.uuid4()}"
    code, output = tokens(
        "create", "--role", "coordinator", "--label", label, "--state-dir", str(state),
        "--school", str(KNOWN_SCHOOL), "--enrolment-url", f"http://127.0.0.1:{free_port()}",
    )  # fmt: skip
    assert code == 2
    assert "cannot ask enrolment" in output
    assert label not in [r.label for r in stored(provisioned).values()]


@pytest.mark.parametrize(
    ("lifetime", "days"), [("30d", 30), ("90", 90), ("12h", 0.5), ("730d", 730)]
)
def test_a_token_lives_as_long_as_asked_within_two_years(
    state: Path, provisioned: str, lifetime: str, days: float
) -> None:
    label = f"script {uuid.uuid4()}"
    code, output = tokens(
        "create", "--role", "partner", "--label", label, "--state-dir", str(state),
        "--expires-in", lifetime,
    )  # fmt: skip
    assert code == 0, output
    [record] = [r for r in stored(provisioned).values() if r.label == label]
    assert record.expires_at - record.created_at == timedelta(days=days)


@pytest.mark.parametrize("lifetime", ["731d", "0d", "forever", "30m"])
def test_a_lifetime_beyond_two_years_or_unreadable_is_refused(state: Path, lifetime: str) -> None:
    code, output = tokens(
        "create", "--role", "partner", "--label", "x", "--state-dir", str(state),
        "--expires-in", lifetime,
    )  # fmt: skip
    assert code == 2
    assert "--expires-in" in output or lifetime in output


def test_list_shows_every_token_and_never_its_secret(state: Path, provisioned: str) -> None:
    label = f"city education department {uuid.uuid4()}"
    code, output = tokens(
        "create", "--role", "partner", "--label", label, "--state-dir", str(state)
    )
    assert code == 0, output
    secret = output.strip().splitlines()[-1]
    code, listed = tokens("list", "--state-dir", str(state))
    assert code == 0, listed
    [line] = [line for line in listed.splitlines() if label in line]
    [record] = [r for r in stored(provisioned).values() if r.label == label]
    assert line.split()[:2] == [record.id, "partner"]
    assert f"{record.expires_at:%Y-%m-%d}" in line
    assert "active" in line
    code, as_json = tokens("list", "--json", "--state-dir", str(state))
    assert code == 0
    for shown in (listed, as_json):
        assert secret not in shown
        assert secret.removeprefix("yts_")[:12] not in shown
        assert hash_token(secret) not in shown


def test_revoke_takes_an_id_or_a_label_and_a_shared_label_must_be_told_apart(
    state: Path, provisioned: str
) -> None:
    label = f"reports script {uuid.uuid4()}"
    create = ["create", "--role", "partner", "--label", label, "--state-dir", str(state)]
    assert tokens(*create)[0] == 0
    assert tokens(*create)[0] == 0
    code, output = tokens("revoke", label, "--state-dir", str(state))
    assert code == 2
    assert "2 tokens have the label" in output

    first, second = [r for r in stored(provisioned).values() if r.label == label]
    code, output = tokens("revoke", first.id, "--state-dir", str(state))
    assert code == 0, output
    code, output = tokens("revoke", label, "--state-dir", str(state))  # the one left unrevoked
    assert code == 0, output
    assert second.id in output
    assert all(r.revoked_at for r in stored(provisioned).values() if r.label == label)
    code, listed = tokens("list", "--state-dir", str(state))
    assert sum("revoked" in line for line in listed.splitlines() if label in line) == 2

    code, output = tokens("revoke", "no-such-token", "--state-dir", str(state))
    assert code == 2
    assert "no token with the id or label" in output
