"""The first flow end to end, on real processes: ``yts up``'s local system (a nats-server,
provisioning, four uvicorn processes on SQLite) — a school and a trainer enrolled over HTTP,
the events relayed through the outbox to JetStream, and reporting counting the trainer."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from yts_deploy.runner import WORKSPACE_KEY_FILE, WORKSPACE_SETTINGS_FILE, LocalSystem

from tests.support.enrolment_api import COHORT, SCHOOL, trainer
from tests.support.local_system import running_local_system


@pytest.fixture(scope="module")
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    with running_local_system(tmp_path_factory.mktemp("yts-up")) as system:
        yield system


def test_every_service_is_ready_and_documents_its_api(local_system: LocalSystem) -> None:
    for name, service in local_system.services.items():
        ready = httpx.get(f"{service.url}/readyz", timeout=5)
        assert ready.status_code == 200, (name, ready.text)
        assert ready.json()["checks"] == {"database": "ok", "nats": "ok", "access": "ok"}
        assert httpx.get(f"{service.url}/openapi.json", timeout=5).status_code == 200
        assert "yts_http_requests_total" in httpx.get(f"{service.url}/metrics", timeout=5).text


def test_an_enrolled_trainer_is_counted_by_reporting(local_system: LocalSystem) -> None:
    auth = {"Authorization": f"Bearer {local_system.token}"}
    enrolment = httpx.Client(
        base_url=local_system.services["enrolment"].url, headers=auth, timeout=10
    )
    reporting = httpx.Client(
        base_url=local_system.services["reporting"].url, headers=auth, timeout=10
    )
    school = enrolment.post("/v1/schools", json=SCHOOL)
    assert school.status_code == 201, school.text
    cohort = enrolment.post("/v1/cohorts", json=COHORT)
    assert cohort.status_code == 201, cohort.text
    enrolled = enrolment.post(
        "/v1/trainers", json=trainer(school.json()["id"], cohort.json()["id"])
    )
    assert enrolled.status_code == 201, enrolled.text

    def value(indicators: dict[str, Any], name: str) -> Any:
        return (indicators.get(name) or {}).get("value")

    started = time.monotonic()
    indicators: dict[str, Any] = {}
    while time.monotonic() - started < 10:
        indicators = reporting.get("/v1/indicators").json()
        if value(indicators, "trainers_enrolled") == 1:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    logs = (local_system.state_dir / "logs" / "reporting.log").read_text()[-3000:]
    assert value(indicators, "trainers_enrolled") == 1, f"{indicators}\n{logs}"
    assert value(indicators, "schools_participating") == 1
    # Active means "facilitated a delivered session": a new trainer is enrolled, not active.
    assert value(indicators, "trainers_active") == 0
    print(f"trainer counted by reporting {elapsed * 1000:.0f} ms after the 201")


def test_the_state_folder_is_readable_by_its_owner_alone(local_system: LocalSystem) -> None:
    """enrolment.db holds minors' and guardians' names, notifications.db webhook secrets, and
    their -wal/-shm files the same pages: no other user of the machine may read any of it."""
    state = local_system.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    databases = sorted(state.glob("*.db*"))
    assert {p.name for p in databases} >= {"enrolment.db", "enrolment.db-wal", "notifications.db"}
    # The admin token and the workspace's settings are written at start; the signing keys
    # when first needed (the workspace's at start, the credentials issuer's at its first
    # credential): each is checked once it is there.
    assert (state / "admin.token").exists()
    assert (state / WORKSPACE_SETTINGS_FILE).exists()
    secrets = [
        state / name
        for name in (
            "admin.token",
            WORKSPACE_SETTINGS_FILE,
            WORKSPACE_KEY_FILE,
            "credentials-issuer-key.json",
        )
    ]
    readable = [
        f"{path.relative_to(state)} {mode:o}"
        for path in [*databases, *secrets, *(state / "nats").rglob("*")]
        if (mode := _mode_if_still_there(path)) is not None and mode & 0o077
    ]
    assert readable == []


def _mode_if_still_there(path: Path) -> int | None:
    """The permission bits of a file, or None when it is gone (nats-server writes its state
    through short-lived temporary files)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def test_a_state_folder_left_open_by_an_older_version_is_closed(tmp_path: Path) -> None:
    from yts_deploy.runner import make_private

    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    (state / "enrolment.db").write_bytes(b"")
    for path in (state, state / "logs", state / "enrolment.db"):
        path.chmod(0o755)
    make_private(state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "logs").stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "enrolment.db").stat().st_mode) == 0o700 & 0o755


def test_the_mail_a_coordinator_is_sent_is_caught_and_readable(local_system: LocalSystem) -> None:
    """Under ``yts up`` mail goes to the local catcher: a page lists it, another shows it,
    and it is kept as an .eml file in the state folder (readable by its owner alone)."""
    auth = {"Authorization": f"Bearer {local_system.token}"}
    enrolment = httpx.Client(
        base_url=local_system.services["enrolment"].url, headers=auth, timeout=10
    )
    school = enrolment.post("/v1/schools", json={**SCHOOL, "name": "School No. 77"})
    assert school.status_code == 201, school.text
    cohort = enrolment.get("/v1/cohorts").json()[0]
    enrolled = enrolment.post("/v1/trainers", json=trainer(school.json()["id"], cohort["id"]))
    assert enrolled.status_code == 201, enrolled.text
    assert local_system.mail is not None
    catcher = httpx.Client(base_url=local_system.mail.url, timeout=10)
    coordinator = SCHOOL["coordinator"]["email"]
    deadline = time.monotonic() + 20
    mails: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not mails:
        mails = [m for m in catcher.get("/api/mails").json()["items"] if coordinator in m["to"]]
        time.sleep(0.1)
    logs = (local_system.state_dir / "logs" / "notifications.log").read_text()[-3000:]
    assert mails, logs
    listing = catcher.get("/")
    assert listing.status_code == 200
    assert f'href="/mails/{mails[0]["id"]}"' in listing.text
    shown = catcher.get(f"/mails/{mails[0]['id']}")
    assert shown.status_code == 200
    assert coordinator in shown.text
    assert catcher.get(f"/mails/{mails[0]['id']}/html").status_code == 200
    kept = local_system.mail_dir / f"{mails[0]['id']}.eml"
    assert kept.read_bytes() == catcher.get(f"/mails/{mails[0]['id']}.eml").content
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert catcher.get("/mails/../../admin.token").status_code == 404


def test_the_mail_catchers_ports_follow_the_services_ports() -> None:
    from yts_deploy.runner import mail_ports

    assert mail_ports(8001) == (8005, 8025)
    assert mail_ports(9001) == (9005, 9025)
