"""Settings refuse bad values at start-up naming the variable; tokens are stored as hashes and
shown once; roles are enforced with problem+json."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner
from yts_chassis.auth import Role, TokenFile, TokenRegistry, hash_token
from yts_chassis.settings import ServiceSettings, SettingsError, load_settings
from yts_deploy.cli import app
from yts_enrolment.settings import EnrolmentSettings
from yts_notifications.settings import NotificationsSettings
from yts_reporting.settings import ReportingSettings
from yts_sessions.settings import SessionsSettings


def test_a_bad_setting_stops_the_service_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YTS_ENROLMENT_NATS_URL", "http://localhost:4222")
    monkeypatch.setenv("YTS_ENROLMENT_DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError) as stopped:
        load_settings(EnrolmentSettings)
    message = str(stopped.value)
    assert "YTS_ENROLMENT_NATS_URL" in message
    assert "YTS_ENROLMENT_DATABASE_URL" in message


@pytest.mark.parametrize(
    ("settings_type", "variable"),
    [
        (SessionsSettings, "YTS_SESSIONS_TIMEZONE"),
        (ReportingSettings, "YTS_REPORTING_PROGRAMME_TIMEZONE"),
        (NotificationsSettings, "YTS_NOTIFICATIONS_SUMMARY_TIMEZONE"),
    ],
)
def test_an_unknown_time_zone_stops_the_service_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, settings_type: type[ServiceSettings], variable: str
) -> None:
    monkeypatch.setenv(variable, "Asia/Atlantis")
    with pytest.raises(SettingsError) as stopped:
        load_settings(settings_type)
    assert f"{variable}: Value error, unknown time zone 'Asia/Atlantis'" in str(stopped.value)


def test_a_service_reads_only_its_own_prefix_and_nested_settings_with_a_double_underscore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YTS_SESSIONS_MILESTONES__TRAINER_SESSIONS_5", "7")
    monkeypatch.setenv("YTS_SESSIONS_TIMEZONE", "Asia/Qostanay")
    monkeypatch.setenv("YTS_REPORTING_NATS_URL", "nats://elsewhere:4222")
    settings = load_settings(SessionsSettings)
    assert settings.milestones.trainer_sessions_5 == 7
    assert settings.timezone == "Asia/Qostanay"
    assert settings.nats_url == "nats://127.0.0.1:4222"


def test_yts_tokens_create_prints_the_token_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    school = uuid.uuid4()
    path = tmp_path / "tokens.json"
    result = CliRunner().invoke(
        app,
        [
            "tokens",
            "create",
            "--role",
            "coordinator",
            "--school",
            str(school),
            "--label",
            "deputy of No. 12",
            "--tokens-file",
            str(path),
            "--no-check-school",  # tests/deploy/test_tokens_cli.py asks a real enrolment
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    stored = path.read_text()
    assert token not in stored
    assert json.loads(stored)["tokens"][0]["sha256"] == hash_token(token)
    principal = TokenRegistry(tokens_file=path).identify(token)
    assert principal is not None
    assert (principal.role, principal.school_id) == (Role.coordinator, school)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_coordinator_token_needs_a_school_and_others_may_not_have_one(tmp_path: Path) -> None:
    tokens = TokenFile(tmp_path / "tokens.json")
    with pytest.raises(ValueError, match="bound to a school"):
        tokens.create(Role.coordinator, "no school")
    with pytest.raises(ValueError, match="only coordinator"):
        tokens.create(Role.partner, "UNESCO", uuid.uuid4())
    runner = CliRunner().invoke(
        app,
        [
            "tokens",
            "create",
            "--role",
            "coordinator",
            "--label",
            "x",
            "--tokens-file",
            str(tmp_path / "t.json"),
        ],
    )
    assert runner.exit_code != 0


def test_a_new_token_is_recognised_without_restarting_the_service(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    registry = TokenRegistry(tokens_file=path)
    assert registry.identify("yts_unknown") is None
    token = TokenFile(path).create(Role.partner, "methodological centre")
    principal = registry.identify(token)
    assert principal is not None
    assert principal.role is Role.partner


def test_a_token_created_within_the_same_clock_tick_is_still_recognised(tmp_path: Path) -> None:
    # Two `yts tokens create` in quick succession can leave the file with the same mtime
    # (coarse file-system timestamps); the second token must not be refused until restart.
    path = tmp_path / "tokens.json"
    registry = TokenRegistry(tokens_file=path)
    first = TokenFile(path).create(Role.partner, "UNESCO office")
    assert registry.identify(first) is not None
    stamp = path.stat().st_mtime_ns
    second = TokenFile(path).create(Role.partner, "city education department")
    os.utime(path, ns=(stamp, stamp))
    principal = registry.identify(second)
    assert principal is not None
    assert principal.label == "city education department"
