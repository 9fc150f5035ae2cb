"""``yts tokens create`` writes where the running system reads, and binds coordinators only to
schools that enrolment knows (asked over HTTP, here a real server on loopback)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner
from yts_chassis.auth import TokenFile, hash_token
from yts_deploy.cli import app

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
def state(tmp_path: Path) -> Path:
    """A state folder as `yts up` leaves it."""
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "admin.token").write_text(ADMIN + "\n")
    return folder


def create(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["tokens", "create", *args])
    return result.exit_code, result.output


def test_a_token_goes_into_the_state_folder_the_system_was_started_with(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # ./.state is not the system's folder
    monkeypatch.delenv("YTS_TOKENS_FILE", raising=False)
    code, output = create(
        "--role", "partner", "--label", "UNESCO office", "--state-dir", str(state)
    )
    assert code == 0, output
    token = output.strip().splitlines()[-1]
    records = TokenFile(state / "tokens.json").read()
    assert [r.sha256 for r in records] == [hash_token(token)]
    assert not (tmp_path / ".state").exists()


def test_a_state_folder_where_no_system_was_started_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YTS_TOKENS_FILE", raising=False)
    code, output = create("--role", "partner", "--label", "UNESCO office")
    assert code == 2
    assert "no system was started" in output
    assert not (tmp_path / ".state" / "tokens.json").exists()


def test_a_coordinator_is_bound_only_to_a_school_enrolment_knows(
    state: Path, enrolment_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("YTS_TOKENS_FILE", raising=False)
    monkeypatch.delenv("YTS_ADMIN_TOKEN", raising=False)
    common = ["--role", "coordinator", "--label", "deputy", "--state-dir", str(state)]
    code, output = create(*common, "--school", str(uuid.uuid4()), "--enrolment-url", enrolment_url)
    assert code == 2
    assert "enrolment has no school" in output
    assert not (state / "tokens.json").exists()

    code, output = create(*common, "--school", str(KNOWN_SCHOOL), "--enrolment-url", enrolment_url)
    assert code == 0, output
    [record] = TokenFile(state / "tokens.json").read()
    assert record.school_id == KNOWN_SCHOOL
    assert json.loads((state / "tokens.json").read_text())["tokens"][0]["label"] == "deputy"


def test_an_unreachable_enrolment_is_said_and_nothing_is_written(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("YTS_TOKENS_FILE", raising=False)
    from yts_deploy.natsserver import free_port

    code, output = create(
        "--role", "coordinator", "--label", "deputy", "--state-dir", str(state),
        "--school", str(KNOWN_SCHOOL), "--enrolment-url", f"http://127.0.0.1:{free_port()}",
    )  # fmt: skip
    assert code == 2
    assert "cannot ask enrolment" in output
    assert not (state / "tokens.json").exists()
