"""`yts reporting rebuild` picks the system to rebuild: the one the environment names, else the
local `yts up` system of the state folder."""

from __future__ import annotations

from pathlib import Path

from yts_deploy.cli import rebuild_environment
from yts_deploy.natsconfig import REBUILDER, LocalAccess


def local_state(state_dir: Path) -> LocalAccess:
    access = LocalAccess(
        url="nats://127.0.0.1:4999",
        config_dir=state_dir / "nats",
        pid_file=state_dir / "nats" / "nats.pid",
        passwords={REBUILDER: "local-secret"},
    )
    access.save(state_dir / "nats")
    return access


def test_without_settings_it_rebuilds_the_local_system_as_the_rebuild_user(
    tmp_path: Path,
) -> None:
    access = local_state(tmp_path)
    env = rebuild_environment({"PATH": "/usr/bin"}, tmp_path)
    assert env["YTS_REPORTING_NATS_URL"] == access.url
    assert env["YTS_REPORTING_NATS_USER"] == REBUILDER
    assert env["YTS_REPORTING_NATS_PASSWORD"] == "local-secret"
    assert env["YTS_REPORTING_DATABASE_URL"].endswith(str(tmp_path / "reporting.db"))


def test_a_system_named_in_the_environment_wins_over_a_local_state_folder(
    tmp_path: Path,
) -> None:
    local_state(tmp_path)
    chosen = {
        "YTS_REPORTING_NATS_URL": "nats://10.0.0.5:4222",
        "YTS_REPORTING_DATABASE_URL": "postgresql+asyncpg://reporting@db/reporting",
    }
    assert rebuild_environment(dict(chosen), tmp_path) == chosen


def test_without_a_local_system_the_environment_is_used_as_it_is(tmp_path: Path) -> None:
    assert rebuild_environment({"PATH": "/usr/bin"}, tmp_path) == {"PATH": "/usr/bin"}
