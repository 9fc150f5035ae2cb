"""What the partner tests share: a real nats-server run from a copy of deploy/nats with the
streams provisioned, `yts partners ...` aimed at it as an operator would run it, and the example
consumer run as a partner runs it, its stdout read line by line and its stderr kept in a file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner
from yts_deploy.cli import app
from yts_deploy.natsconfig import PROVISIONER
from yts_deploy.partners import prepare_config_dir

from tests.support.deploy_nats import SecuredNats, provision_as_provisioner, start_secured
from tests.support.deploy_processes import EXAMPLE_CONSUMER, read_lines

# Both kinds of timeout nats-py 2.16's fetch raises on an idle stream: its own
# nats.errors.TimeoutError mostly, and asyncio's plain one when the server's "408 Request
# Timeout" lands just before the client's deadline (~3 % of idle fetches on loopback). This
# runner makes every timed-out fetch raise the plain kind, so that the rare case is certain.
PLAIN_TIMEOUTS_RUNNER = """\
import runpy
import sys

from nats.js.client import JetStreamContext

fetch = JetStreamContext.PullSubscription.fetch


async def fetch_raising_plain_timeouts(self, *args, **kwargs):
    try:
        return await fetch(self, *args, **kwargs)
    except TimeoutError:
        raise TimeoutError() from None  # builtin, not nats.errors.TimeoutError


JetStreamContext.PullSubscription.fetch = fetch_raising_plain_timeouts
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@dataclass
class PartnerRig:
    nats: SecuredNats
    folder: Path

    @property
    def state_dir(self) -> Path:
        return self.folder / "state"

    def yts(self, *args: str, expect: int = 0) -> str:
        """`yts ...` aimed at the test server, as an operator of a compose deployment runs it
        (kits go below the test's own state folder)."""
        reloads = args[1] in ("add", "rotate", "remove")
        pid_file = ["--pid-file", str(self.nats.server.pid_file)] if reloads else []
        where = ["--config-dir", str(self.nats.config_dir), "--nats-url", self.nats.url]
        result = CliRunner().invoke(
            app,
            [*args, *where, "--state-dir", str(self.state_dir), *pid_file],
            env={"YTS_NATS_PROVISIONER_PASSWORD": self.nats.passwords[PROVISIONER]},
        )
        assert result.exit_code == expect, result.output
        return result.output


@contextmanager
def partner_rig(folder: Path, name: str) -> Iterator[PartnerRig]:
    config_dir = prepare_config_dir(folder / "config")
    nats_server = start_secured(folder / "store", name, config_dir)
    try:
        asyncio.run(provision_as_provisioner(nats_server))
        yield PartnerRig(nats_server, folder)
    finally:
        nats_server.server.stop()


@dataclass
class ConsumerRun:
    """A running partner consumer: stdout is read line by line, stderr goes to a file."""

    process: subprocess.Popen[str]
    stderr_file: Path

    @property
    def stderr(self) -> str:
        return self.stderr_file.read_text(encoding="utf-8")

    def events(self, wanted: int, timeout: float = 20.0) -> list[str]:
        return read_lines(self.process, wanted=wanted, timeout=timeout)

    def wait_for_stderr(self, text: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            assert self.process.poll() is None, f"the consumer ended:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no {text!r} on stderr:\n{self.stderr}"
            time.sleep(0.1)

    def exit_code_within(self, timeout: float) -> int | None:
        """Its exit code if it ends by itself within ``timeout`` seconds; None if still running."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def assert_stops_cleanly(self) -> None:
        """Ctrl-C: it ends with exit code 0 and no traceback."""
        exit_code = self.interrupt()
        assert exit_code == 0, self.stderr
        assert "Traceback" not in self.stderr

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C; its exit code (killed, and -9, if it does not stop in time: 30 s, since on
        this two-core machine a whole-suite run has seen a loaded consumer need over 15 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@contextmanager
def running_consumer(
    folder: Path,
    environment: dict[str, str],
    *,
    command: list[str] | None = None,
    cwd: Path | None = None,
    plain_timeouts: bool = False,
) -> Iterator[ConsumerRun]:
    """The example consumer (or ``command``) run with ``environment``; stopped at the end."""
    command = command or [sys.executable, str(EXAMPLE_CONSUMER)]
    if plain_timeouts:
        runner = folder / "plain_timeouts_runner.py"
        runner.write_text(PLAIN_TIMEOUTS_RUNNER, encoding="utf-8")
        command = [command[0], str(runner), *command[1:]]
    stderr_file = folder / f"consumer-{time.monotonic_ns()}.stderr"
    with stderr_file.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            command,
            env={**os.environ, **environment},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    run = ConsumerRun(process, stderr_file)
    try:
        yield run
    finally:
        run.interrupt()
