"""The systems the crash tests break, and the faults: ``yts up``'s local system (one process per
service, one nats-server) and a scaled-out one (two replicas of every service on PostgreSQL, a
three-node NATS cluster with R3 streams), both real processes on loopback; and a chaos thread
that SIGKILLs and restarts services, restarts NATS or kills a node, and cuts PostgreSQL's
connections, at seeded moments of the load."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from yts_deploy.natsconfig import (
    PROVISIONER,
    service_nats_env,
)
from yts_deploy.natsserver import NatsServer, free_port
from yts_deploy.partners.registry import prepare_config_dir
from yts_deploy.runner import (
    SERVICES,
    LocalSystem,
    ServiceProcess,
    admin_token,
    service_env,
    wait_ready,
)

from tests.support.deploy_nats import (
    cluster_nodes,
    new_platform_passwords,
    provision_r3_when_clustered,
)

# The services the load sends commands to (the others only consume events).
COMMANDED = ("enrolment", "sessions")
# Faster than production, so that a run settles in seconds: the outbox's safety-net poll, and
# a mail whose sender died mid-send is taken over after 3 + 2 s instead of 30 + 30 s.
QUICK_SETTLING = {
    "notifications": {
        "YTS_NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": "3",
        "YTS_NOTIFICATIONS_DELIVERY_LEASE_MARGIN_SECONDS": "2",
        "YTS_NOTIFICATIONS_MAIL_BACKOFF_BASE_SECONDS": "1",
        "YTS_NOTIFICATIONS_WEBHOOK_RETRY_SCHEDULE_SECONDS": "[1, 2, 4, 8]",
    },
}
# Milestone thresholds a short run reaches (the kinds keep their names): 3 sessions make
# trainer.sessions.5, 4 make school.sessions.20; the programme's at 300, 900 and 1500 peers.
THRESHOLDS = {
    "trainer_sessions_5": 3,
    "trainer_peers_100": 100,
    "school_sessions_20": 4,
    "programme_peers_1000": 300,
    "programme_peers_5000": 900,
    "programme_peers_10000": 1500,
}


def service_settings(thresholds: dict[str, int] = THRESHOLDS) -> dict[str, dict[str, str]]:
    settings = {name: dict(values) for name, values in QUICK_SETTLING.items()}
    settings["sessions"] = {
        f"YTS_SESSIONS_MILESTONES__{name.upper()}": str(value) for name, value in thresholds.items()
    }
    return settings


class CrashSystem:
    """What the load, the chaos and the checks need of a running system."""

    token: str
    mail_dir: Path
    database_names: dict[str, str]  # PostgreSQL databases by service; empty on SQLite
    postgres_admin_url: str | None  # where to cut their connections from

    def replicas(self, service: str) -> list[ServiceProcess]:
        raise NotImplementedError

    @property
    def urls(self) -> dict[str, list[str]]:
        return {name: [p.url for p in self.replicas(name)] for name in SERVICES}

    @property
    def nats_urls(self) -> list[str]:
        """The NATS servers that run now (checks connect without credentials: development)."""
        raise NotImplementedError

    def nats_fault(self, rng: random.Random) -> str:
        """Restart NATS (one node) or kill a cluster node; says which."""
        raise NotImplementedError

    def log_tail(self, service: str, replica: int = 0, size: int = 3000) -> str:
        path = self.replicas(service)[replica].log_path
        return path.read_text(errors="replace")[-size:] if path.exists() else ""


@dataclass
class SingleNode(CrashSystem):
    """``yts up``'s ``LocalSystem``."""

    system: LocalSystem
    database_names: dict[str, str] = field(default_factory=dict)
    postgres_admin_url: str | None = None

    def __post_init__(self) -> None:
        self.token = self.system.token
        self.mail_dir = self.system.mail_dir

    def replicas(self, service: str) -> list[ServiceProcess]:
        return [self.system.services[service]]

    @property
    def nats_urls(self) -> list[str]:
        assert self.system.nats is not None
        return [self.system.nats.url]

    def nats_fault(self, rng: random.Random) -> str:
        self.system.restart_nats()
        return "nats-server restarted"


@dataclass
class Replicated(CrashSystem):
    """Every service ``replicas`` times on one PostgreSQL database each, on a three-node NATS
    cluster (deploy/nats/cluster.conf, R3 streams), with the local mail catcher."""

    state_dir: Path
    database_urls: dict[str, str]
    database_names: dict[str, str]
    postgres_admin_url: str | None
    replica_count: int = 2
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    factories: dict[str, str] = field(default_factory=dict)
    nodes: list[NatsServer] = field(default_factory=list)
    services: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    mail: ServiceProcess | None = None
    killed_nodes: list[NatsServer] = field(default_factory=list)

    def replicas(self, service: str) -> list[ServiceProcess]:
        return self.services[service]

    @property
    def nats_urls(self) -> list[str]:
        return [node.url for node in self.nodes if node.running]

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.mail_dir = self.state_dir / "mail"
        # The production files, plus `yts up`'s user for connections without credentials.
        config_dir = prepare_config_dir(self.state_dir / "nats-config", developer=True)
        passwords = new_platform_passwords()
        self.nodes = cluster_nodes(self.state_dir, passwords, config_dir)
        for node in self.nodes:
            node.start()
        nats_url = ",".join(node.url for node in self.nodes)
        asyncio.run(provision_r3_when_clustered(nats_url, passwords[PROVISIONER]))
        self.token = admin_token(self.state_dir)
        smtp_port = free_port()
        self.mail = ServiceProcess(
            name="mail",
            port=free_port(),
            env={
                "YTS_MAILCATCHER_DIR": str(self.mail_dir),
                "YTS_MAILCATCHER_SMTP_PORT": str(smtp_port),
            },
            log_path=self.state_dir / "logs" / "mail.log",
            factory="yts_deploy.mailcatcher:create_app",
        )
        self.mail.start()
        mail = self.mail
        wait_ready(mail.url, alive=lambda: mail.alive)
        development = {
            "notifications": {
                "YTS_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
                "YTS_NOTIFICATIONS_SMTP_PORT": str(smtp_port),
                "YTS_NOTIFICATIONS_ALLOW_INSECURE_LOOPBACK_WEBHOOKS": "true",
            }
        }
        for name in SERVICES:
            self.services[name] = [
                ServiceProcess(
                    name=name,
                    port=free_port(),
                    env=service_env(
                        name,
                        nats_url=nats_url,
                        database_url=self.database_urls[name],
                        admin_token=self.token,
                        extra={
                            **service_nats_env(name, passwords[name]),
                            **development.get(name, {}),
                            **self.extra_env.get(name, {}),
                        },
                    ),
                    log_path=self.state_dir / "logs" / f"{name}-{replica}.log",
                    factory=self.factories.get(name, ""),
                )
                for replica in range(1, self.replica_count + 1)
            ]
        # Every replica at the same moment, on fresh databases: their migrations race.
        everyone = [p for replicas in self.services.values() for p in replicas]
        for process in everyone:
            process.start()
        for process in everyone:
            wait_ready(process.url, timeout=120, alive=lambda p=process: p.alive)  # type: ignore[misc]

    def nats_fault(self, rng: random.Random) -> str:
        node = rng.choice([n for n in self.nodes if n.running])
        node.kill()
        self.killed_nodes.append(node)
        return f"{node.name} killed"

    def stop(self) -> None:
        for replicas in self.services.values():
            for process in replicas:
                process.stop()
        if self.mail is not None:
            self.mail.stop()
        for node in self.nodes:
            node.stop()


async def cut_connections(admin_url: str, databases: list[str]) -> int:
    """What a PostgreSQL failover or a network cut does to the services: every connection to
    their databases is terminated. Returns how many there were."""
    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        terminated = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
            databases,
        )
    finally:
        await conn.close()
    return len(terminated)


@dataclass(frozen=True)
class Fault:
    at_command: int
    action: str  # "kill" (and restart) a service replica, "nats", "postgres"
    service: str = ""
    replica: int = 0


def plan_faults(
    rng: random.Random,
    commands: int,
    *,
    kills_per_service: int,
    replicas: int,
    nats: bool = True,
    postgres: bool = False,
) -> list[Fault]:
    """Seeded moments within the first two thirds of the load, so that redeliveries and the
    outboxes have the rest of the run to catch up while commands still flow."""

    def moment() -> int:
        return rng.randint(commands // 20, commands * 2 // 3)

    faults = [
        Fault(moment(), "kill", service, rng.randrange(replicas))
        for service in SERVICES
        for _ in range(kills_per_service)
    ]
    if nats:
        faults.append(Fault(moment(), "nats"))
    if postgres:
        faults.append(Fault(moment(), "postgres"))
    return sorted(faults, key=lambda f: f.at_command)


@dataclass(eq=False)
class Chaos(threading.Thread):
    """Applies the faults in order, each once the load has reached its command. A kill aimed at
    a service the load sends commands to waits (briefly) for a request to that replica to be in
    flight, so that it dies mid-request: before, during or after its commit. A killed service
    is started again after a short pause, as a supervisor (systemd, compose's restart policy)
    would, while the next faults go on."""

    system: CrashSystem
    faults: list[Fault]
    progress: Callable[[], int]
    in_flight: Callable[[], str | None]  # the URL a command is waiting on, if any
    rng: random.Random
    done: threading.Event = field(default_factory=threading.Event)  # the load has ended
    figures: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    error: BaseException | None = None
    restarting: dict[str, threading.Thread] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(name="chaos", daemon=True)
        self.started = time.monotonic()

    def run(self) -> None:
        try:
            for fault in self.faults:
                while self.progress() < fault.at_command and not self.done.is_set():
                    time.sleep(0.01)
                self._apply(fault)
            for restart in self.restarting.values():
                restart.join(timeout=90)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _note(self, what: str) -> None:
        self.log.append(f"{time.monotonic() - self.started:6.1f}s {what}")

    def _apply(self, fault: Fault) -> None:
        if fault.action == "kill":
            process = self.system.replicas(fault.service)[fault.replica]
            ongoing = self.restarting.get(process.url)
            if ongoing is not None:
                ongoing.join(timeout=90)
            aimed = False
            deadline = time.monotonic() + 3.0
            while fault.service in COMMANDED and time.monotonic() < deadline:
                if self.in_flight() == process.url:
                    time.sleep(self.rng.uniform(0.0, 0.015))  # somewhere in the request
                    aimed = True
                    break
                time.sleep(0.0005)
            process.kill()
            self.figures["kills"] += 1
            self._note(
                f"killed {fault.service} #{fault.replica}" + (" mid-request" if aimed else "")
            )
            pause = self.rng.uniform(0.0, 1.0)
            restart = threading.Thread(target=self._restart, args=(process, pause), daemon=True)
            self.restarting[process.url] = restart
            restart.start()
        elif fault.action == "nats":
            time.sleep(self.rng.uniform(0.0, 0.25))
            what = self.system.nats_fault(self.rng)
            self.figures["nats node kills" if "killed" in what else "nats restarts"] += 1
            self._note(what)
        elif fault.action == "postgres":
            time.sleep(self.rng.uniform(0.0, 0.25))
            admin_url = self.system.postgres_admin_url
            assert admin_url is not None
            cut = asyncio.run(cut_connections(admin_url, list(self.system.database_names.values())))
            self.figures["postgres cuts"] += 1
            self.figures["postgres connections terminated"] += cut
            self._note(f"PostgreSQL: {cut} connections terminated")

    def _restart(self, process: ServiceProcess, pause: float) -> None:
        try:
            time.sleep(pause)
            process.start()
            wait_ready(process.url, timeout=90, alive=lambda: process.alive)
        except BaseException as exc:
            self.error = self.error or exc
            self.done.set()
            return
        self.figures["restarts"] += 1
        self._note(f"{process.name} on {process.url} ready again")
