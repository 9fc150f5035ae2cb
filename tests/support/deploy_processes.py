"""Programs run as a person runs them (`yts up`, the contracts' example partner consumer),
read line by line with bounded waits."""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONSUMER = REPO / "contracts" / "examples" / "partner_consumer.py"


_READERS: dict[int, queue.Queue[str | None]] = {}


def _lines_of(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """A thread reads the process's stdout into a queue (select() on a buffered text pipe
    misses lines already in the buffer); None marks the end of the output."""
    if process.pid not in _READERS:
        lines: queue.Queue[str | None] = queue.Queue()
        stream = process.stdout
        assert stream is not None

        def pump() -> None:
            for line in stream:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        _READERS[process.pid] = lines
    return _READERS[process.pid]


def read_lines(
    process: subprocess.Popen[str],
    wanted: int | None = None,
    until: str | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Lines of ``process``'s stdout until ``wanted`` lines or one containing ``until`` came
    (or the time is up, or the output ends)."""
    source = _lines_of(process)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted is not None and len(lines) >= wanted:
            break
        if until is not None and lines and until in lines[-1]:
            break
        try:
            line = source.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            break
        lines.append(line)
    return lines


def interrupt(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """Ctrl-C, then the rest of stdout (killed if it does not stop in time)."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return "\n".join(read_lines(process, timeout=5))


def printed_environment(output: str) -> dict[str, str]:
    """The variables of the first example command `yts partners add` printed."""
    line = next(line for line in output.splitlines() if "YTS_PARTNER_NATS_URL=" in line)
    return dict(word.split("=", 1) for word in shlex.split(line) if "=" in word)


def example_consumer_lines(
    environment: dict[str, str], wanted: int, timeout: float = 30.0
) -> tuple[list[str], str]:
    """Run contracts/examples/partner_consumer.py with ``environment`` until it printed
    ``wanted`` events; returns its event lines and its stderr."""
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE_CONSUMER)],
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = read_lines(process, wanted=wanted, timeout=timeout)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.stderr is not None
    return lines, process.stderr.read()
