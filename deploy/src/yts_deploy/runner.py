"""``yts up``: the whole system on one machine, no Docker. A nats-server with JetStream on disk
under the state folder, run from a copy of deploy/nats (the production users and permissions,
with passwords made for this state folder), provisioning, one SQLite database per service and
the five services as separate processes, each connecting as its own NATS user. Ctrl-C stops
everything cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from yts_deploy.natsconfig import (
    MAIN_CONFIG,
    PROVISIONER,
    SERVICE_USERS,
    WORKSPACE,
    LocalAccess,
    admin_connect,
    inbox_prefix,
    local_passwords,
    server_env,
    service_nats_env,
)
from yts_deploy.natsserver import NatsServer, free_port, port_is_free
from yts_deploy.partners import prepare_config_dir
from yts_deploy.provision import Report, provision

SERVICES = SERVICE_USERS  # each service connects as the NATS user of its name
# 8005 is the mail catcher's page (enrolment's port + MAIL_PAGE_OFFSET).
DEFAULT_PORTS = {
    "enrolment": 8001,
    "sessions": 8002,
    "notifications": 8003,
    "reporting": 8004,
    "credentials": 8006,
}
WORKSPACE_DEFAULT_PORT = 8000  # the workspace: pages for coordinators and programme staff
# The local mail catcher: its page beside the services, its SMTP port like Mailpit's 8025.
MAIL_PAGE_OFFSET = 4
MAIL_SMTP_OFFSET = 24
NATS_DEFAULT_PORT = 4222
NATS_MONITOR_PORT = 8222
# The state folder holds minors' names (enrolment.db), webhook secrets (notifications.db), the
# admin token and NATS passwords: only the operator's own user may read any of it. Services
# start with this umask, so the databases and their -wal/-shm files are made 0600.
PRIVATE_UMASK = 0o077
ADMIN_TOKEN_FILE = "admin.token"
# The workspace's settings as `yts up` runs it (its NATS user's password among them), kept so
# that `yts people` acts on the same buckets and mails links the same way.
WORKSPACE_SETTINGS_FILE = "workspace-settings.json"
WORKSPACE_KEY_FILE = "workspace-signing-key.json"


def make_private(state_dir: Path) -> None:
    """Create the state folder as 0700 and take group and other rights away from everything
    already in it (a state folder made by an older ``yts up`` was 0755 with 0644 files)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    for path in [state_dir, *state_dir.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    factory: str = ""  # the ASGI app factory; by default the service's own main:create_app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                self.factory or f"yts_{self.name}.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "10",
            ],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )
        log.close()

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def mail_ports(enrolment_port: int) -> tuple[int, int]:
    """The mail catcher's page and SMTP ports follow the services' (8005 and 8025 by default),
    so two systems started with different ``--http-port`` do not share a mailbox."""
    return enrolment_port + MAIL_PAGE_OFFSET, enrolment_port + MAIL_SMTP_OFFSET


def service_env(
    name: str,
    *,
    nats_url: str,
    database_url: str,
    admin_token: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    prefix = f"YTS_{name.upper()}_"
    env = {
        f"{prefix}NATS_URL": nats_url,
        f"{prefix}DATABASE_URL": database_url,
        f"{prefix}ADMIN_TOKEN": admin_token,
        f"{prefix}LOG_FORMAT": "json",
    }
    env.update(extra or {})
    return env


def kept_workspace_settings(state_dir: Path) -> dict[str, str] | None:
    """The workspace's ``YTS_WORKSPACE_*`` settings of the system started with ``state_dir``."""
    path = state_dir / WORKSPACE_SETTINGS_FILE
    if not path.exists():
        return None
    return dict(json.loads(path.read_text(encoding="utf-8")))


def keep_workspace_settings(state_dir: Path, env: dict[str, str]) -> None:
    path = state_dir / WORKSPACE_SETTINGS_FILE
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(env, indent=2), encoding="utf-8")


def kept_admin_token(state_dir: Path) -> str | None:
    """The admin token of the system started with ``state_dir``; None if none was."""
    path = state_dir / ADMIN_TOKEN_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def admin_token(state_dir: Path) -> str:
    """The local admin token: made once per state folder and kept there (mode 0600)."""
    from yts_chassis.access import generate_token

    kept = kept_admin_token(state_dir)
    if kept is not None:
        return kept
    state_dir.mkdir(parents=True, exist_ok=True)
    token = generate_token()
    path = state_dir / ADMIN_TOKEN_FILE
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token


async def provision_at(
    url: str,
    replicas: int = 1,
    fix: bool = False,
    user: str | None = None,
    password: str | None = None,
) -> Report:
    nc = await admin_connect(url, user, password)
    try:
        return await provision(nc.jetstream(), replicas=replicas, fix=fix)
    finally:
        await nc.close()


def wait_ready(url: str, timeout: float = 60.0, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{url} exited before it was ready")
        try:
            response = httpx.get(f"{url}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s: {last}")


@dataclass
class LocalSystem:
    state_dir: Path
    nats_port: int | None = None
    http_ports: dict[str, int] = field(default_factory=dict)
    say: Callable[[str], None] = print
    nats: NatsServer | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    mail: ServiceProcess | None = None  # the mail catcher that notifications sends to
    smtp_port: int = 0
    nats_monitor_port: int | None = None
    token: str = ""
    nats_passwords: dict[str, str] = field(default_factory=dict)
    # Partners' webhooks to a receiver on this machine (plain http on loopback): development.
    loopback_webhooks: bool = True
    # Per service (tests, e.g. tests/reliability): a database URL instead of the SQLite file in
    # the state folder, more environment variables, another ASGI app factory.
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    factories: dict[str, str] = field(default_factory=dict)
    workspace_port: int | None = None
    workspace: ServiceProcess | None = None

    @property
    def nats_dir(self) -> Path:
        return self.state_dir / "nats"

    @property
    def mail_dir(self) -> Path:
        return self.state_dir / "mail"

    def _port(self, wanted: int, what: str) -> int:
        if port_is_free(wanted):
            return wanted
        fallback = free_port()
        self.say(f"port {wanted} is taken; {what} listens on {fallback} instead")
        return fallback

    def start(self) -> None:
        make_private(self.state_dir)
        port = self._port(self.nats_port or NATS_DEFAULT_PORT, "NATS")
        monitor_port = self._port(self.nats_monitor_port or NATS_MONITOR_PORT, "NATS monitoring")
        # Local tools (the nats CLI, tests reading streams) may connect without credentials.
        config_dir = prepare_config_dir(self.nats_dir / "config", developer=True)
        self.nats_passwords = local_passwords(self.nats_dir)
        self.nats = NatsServer(
            store_dir=self.nats_dir,
            port=port,
            monitor_port=monitor_port,
            name="yts-local",
            config_file=config_dir / MAIN_CONFIG,
            env=server_env(self.nats_passwords),
        )
        self.nats.start()
        LocalAccess(
            url=self.nats.url,
            config_dir=config_dir,
            pid_file=self.nats.pid_file,
            passwords=self.nats_passwords,
        ).save(self.nats_dir)
        # The configuration, server config and log just written there with this process's umask.
        make_private(self.nats_dir)
        report = asyncio.run(
            provision_at(self.nats.url, user=PROVISIONER, password=self.nats_passwords[PROVISIONER])
        )
        if not report.ok:
            raise RuntimeError("stream or consumer drift: " + "; ".join(report.drift))
        self.token = admin_token(self.state_dir)
        self._start_mail_catcher()
        for name in SERVICES:
            http_port = self._port(self.http_ports.get(name) or DEFAULT_PORTS[name], name)
            database = self.state_dir / f"{name}.db"
            self.services[name] = ServiceProcess(
                name=name,
                port=http_port,
                env=service_env(
                    name,
                    nats_url=self.nats.url,
                    database_url=self.database_urls.get(name, f"sqlite+aiosqlite:///{database}"),
                    admin_token=self.token,
                    extra={
                        **service_nats_env(name, self.nats_passwords[name]),
                        **self._development_env(name, http_port),
                        **self.extra_env.get(name, {}),
                    },
                ),
                log_path=self.state_dir / "logs" / f"{name}.log",
                factory=self.factories.get(name, ""),
            )
            self.services[name].start()
        for service in self.services.values():
            wait_ready(service.url, alive=lambda s=service: s.alive)  # type: ignore[misc]
        self._start_workspace()

    def _start_workspace(self) -> None:
        """The workspace, signing people in by links mailed to the mail catcher."""
        assert self.nats is not None
        port = self._port(self.workspace_port or WORKSPACE_DEFAULT_PORT, "the workspace")
        env = {
            "YTS_WORKSPACE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "YTS_WORKSPACE_NATS_URL": self.nats.url,
            "YTS_WORKSPACE_NATS_USER": WORKSPACE,
            "YTS_WORKSPACE_NATS_PASSWORD": self.nats_passwords[WORKSPACE],
            "YTS_WORKSPACE_NATS_INBOX_PREFIX": inbox_prefix(WORKSPACE),
            "YTS_WORKSPACE_SMTP_HOST": "127.0.0.1",
            "YTS_WORKSPACE_SMTP_PORT": str(self.smtp_port),
            "YTS_WORKSPACE_SIGNING_KEY_FILE": str((self.state_dir / WORKSPACE_KEY_FILE).resolve()),
            "YTS_WORKSPACE_LOG_FORMAT": "json",
            **{
                f"YTS_WORKSPACE_{name.upper()}_URL": service.url
                for name, service in self.services.items()
                if name in ("enrolment", "sessions", "notifications", "reporting", "credentials")
            },
            **self.extra_env.get("workspace", {}),
        }
        keep_workspace_settings(self.state_dir, env)
        self.workspace = ServiceProcess(
            name="workspace",
            port=port,
            env=env,
            log_path=self.state_dir / "logs" / "workspace.log",
        )
        self.workspace.start()
        wait_ready(
            self.workspace.url, alive=lambda: self.workspace is not None and self.workspace.alive
        )

    def _start_mail_catcher(self) -> None:
        page, smtp = mail_ports(self.http_ports.get("enrolment") or DEFAULT_PORTS["enrolment"])
        self.smtp_port = self._port(smtp, "the mail catcher's SMTP")
        self.mail = ServiceProcess(
            name="mail",
            port=self._port(page, "the mail catcher"),
            env={
                "YTS_MAILCATCHER_DIR": str(self.mail_dir),
                "YTS_MAILCATCHER_SMTP_PORT": str(self.smtp_port),
            },
            log_path=self.state_dir / "logs" / "mail.log",
            factory="yts_deploy.mailcatcher:create_app",
        )
        self.mail.start()
        wait_ready(self.mail.url, alive=lambda: self.mail is not None and self.mail.alive)

    def _development_env(self, name: str, http_port: int) -> dict[str, str]:
        """What a service on this machine needs beyond production's settings."""
        if name == "credentials":
            # Verifiers reach the issuer at its loopback address; its key lives with the state.
            return {
                "YTS_CREDENTIALS_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
                "YTS_CREDENTIALS_SIGNING_KEY_FILE": str(
                    (self.state_dir / "credentials-issuer-key.json").resolve()
                ),
            }
        if name != "notifications":
            return {}
        return {
            "YTS_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "YTS_NOTIFICATIONS_SMTP_PORT": str(self.smtp_port),
            "YTS_NOTIFICATIONS_ALLOW_INSECURE_LOOPBACK_WEBHOOKS": str(
                self.loopback_webhooks
            ).lower(),
        }

    def restart_nats(self) -> None:
        """SIGKILL nats-server and start it again on the same ports and JetStream store."""
        assert self.nats is not None
        self.nats.kill()
        self.nats.start()

    def stop(self) -> None:
        if self.workspace is not None:
            self.workspace.stop()
        for service in self.services.values():
            service.stop()
        if self.mail is not None:
            self.mail.stop()
        if self.nats is not None:
            self.nats.stop()

    def first_dead(self) -> str | None:
        for name, service in self.services.items():
            if not service.alive:
                return name
        if self.mail is not None and not self.mail.alive:
            return "the mail catcher"
        if self.nats is not None and not self.nats.running:
            return "nats-server"
        return None
