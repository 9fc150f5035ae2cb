"""The NATS server configuration of ``deploy/nats`` and the platform's own NATS users.

The files are the source of truth: compose mounts them, ``yts up`` runs a copy of them and the
tests start real nats-server processes from them. Service passwords never appear in the files:
the server reads them from ``YTS_NATS_<USER>_PASSWORD`` environment variables, and each service
gets its own through ``YTS_<SERVICE>_NATS_USER`` / ``_NATS_PASSWORD`` / ``_NATS_INBOX_PREFIX``.
"""

from __future__ import annotations

import json
import secrets
import string
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient
    from nats.js.client import JetStreamContext

T = TypeVar("T")

# deploy/nats beside this package's source (workspace members are installed editable, and the
# Dockerfile copies deploy/ whole).
SOURCE_DIR = Path(__file__).resolve().parents[2] / "nats"
MAIN_CONFIG = "nats-server.conf"
CLUSTER_CONFIG = "cluster.conf"
SERVICE_USERS_CONFIG = "service-users.conf"
USERS_CONFIG = "users.conf"
STATIC_FILES = (MAIN_CONFIG, CLUSTER_CONFIG, SERVICE_USERS_CONFIG)

PROVISIONER = "provisioner"
SERVICE_USERS = ("enrolment", "sessions", "notifications", "reporting", "credentials")
# `yts reporting rebuild` replays the public streams through consumers of its own: an
# operator's tool, kept apart from the always-running reporting service's narrower user.
REBUILDER = "reporting-rebuild"
# The workspace (pages for people): writes people's signing keys and revocations in the access
# bucket, and its own buckets; publishes no event, reads recent ones of the audited streams.
WORKSPACE = "workspace"
PLATFORM_USERS = (PROVISIONER, *SERVICE_USERS, REBUILDER, WORKSPACE)


def _variable(user: str) -> str:
    return user.upper().replace("-", "_")


def password_env(user: str) -> str:
    """The environment variable the server reads a platform user's password from."""
    return f"YTS_NATS_{_variable(user)}_PASSWORD"


def config_variable(user: str) -> str:
    """The name service-users.conf gives a platform user's block."""
    return f"{_variable(user)}_USER"


def inbox_prefix(user: str) -> str:
    """The only reply-inbox prefix ``user`` may subscribe to."""
    return f"_INBOX_{user}"


def service_nats_env(service: str, password: str) -> dict[str, str]:
    """What a service needs to connect as its own NATS user."""
    prefix = f"YTS_{service.upper()}_"
    return {
        f"{prefix}NATS_USER": service,
        f"{prefix}NATS_PASSWORD": password,
        f"{prefix}NATS_INBOX_PREFIX": inbox_prefix(service),
    }


_ALPHABET = string.ascii_letters + string.digits


def generate_password(length: int = 32) -> str:
    """Letters and digits only, starting with a letter: nats-server parses an environment
    variable's value like a configuration value, and one starting with a digit would not be a
    string."""
    return secrets.choice(string.ascii_letters) + "".join(
        secrets.choice(_ALPHABET) for _ in range(length - 1)
    )


@dataclass
class LocalAccess:
    """How ``yts up``'s NATS is reached and administered: written at each start (mode 0600) so
    that ``yts partners`` finds the running local system without options."""

    url: str
    config_dir: Path
    pid_file: Path
    passwords: dict[str, str]

    FILE = "local-access.json"

    @classmethod
    def path(cls, nats_dir: Path) -> Path:
        return nats_dir / cls.FILE

    def save(self, nats_dir: Path) -> None:
        path = self.path(nats_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "url": self.url,
                    "config_dir": str(self.config_dir),
                    "pid_file": str(self.pid_file),
                    "passwords": self.passwords,
                },
                indent=2,
            ),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, nats_dir: Path) -> LocalAccess | None:
        path = cls.path(nats_dir)
        if not path.exists():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            url=raw["url"],
            config_dir=Path(raw["config_dir"]),
            pid_file=Path(raw["pid_file"]),
            passwords=dict(raw["passwords"]),
        )


def local_passwords(nats_dir: Path) -> dict[str, str]:
    """The platform users' passwords of a local system: made once per state folder, kept."""
    access = LocalAccess.load(nats_dir)
    known = dict(access.passwords) if access else {}
    return {user: known.get(user) or generate_password() for user in PLATFORM_USERS}


def server_env(passwords: dict[str, str]) -> dict[str, str]:
    """The environment nats-server needs to resolve the platform users' passwords."""
    return {password_env(user): password for user, password in passwords.items()}


async def as_admin(
    url: str,
    user: str | None,
    password: str | None,
    action: Callable[[JetStreamContext], Awaitable[T]],
) -> T:
    """``action(js)`` on a connection as the provisioner, closed afterwards."""
    nc = await admin_connect(url, user, password)
    try:
        return await action(nc.jetstream())
    finally:
        await nc.close()


async def admin_connect(url: str, user: str | None, password: str | None) -> NatsClient:
    """A connection as the provisioner (or without credentials on a server that needs none);
    ``url`` may list a cluster's servers, comma-separated."""
    import nats

    servers = [server.strip() for server in url.split(",") if server.strip()]

    async def on_error(error: Exception) -> None:
        # Connection failures surface as the call's exception; a refusal must be seen.
        if "permissions violation" in str(error):
            print(f"NATS refused: {error}", file=sys.stderr)

    options: dict[str, Any] = {
        "servers": servers,
        "connect_timeout": 5,
        "max_reconnect_attempts": 2,
        "error_cb": on_error,
    }
    if password:
        name = user or PROVISIONER
        options.update(user=name, password=password, inbox_prefix=inbox_prefix(name))
    return await nats.connect(**options)
