"""Loopback ports for parallel test runs.

``yts_deploy.natsserver.free_port`` asks the kernel for a free port and closes it: the caller
binds it later (a nats-server, a uvicorn process, a mail server). With several pytest-xdist
workers, another worker's kernel-chosen port, or an outgoing connection's ephemeral port, could
land on it in between. Under xdist each worker therefore hands out ports from a band of its own,
below the kernel's ephemeral range, walking it from a random start (so that two runs on one
machine rarely meet), and never the same port twice in a run unless the band is exhausted.
"""

from __future__ import annotations

import os
import random
import socket

FIRST = 12_000  # the bands: 12000-13999 for gw0, 14000-15999 for gw1, ... below 32768
BAND = 2_000
WORKERS = 10  # gw10 and beyond fall back to the kernel's choice


def worker_index() -> int | None:
    """0 for gw0, 1 for gw1...; None outside pytest-xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:])
    return None


def _kernel_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _bindable(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class WorkerPorts:
    def __init__(self, index: int) -> None:
        self.start = FIRST + index * BAND
        self.next = self.start + random.randrange(BAND)
        self.handed = 0

    def __call__(self, host: str = "127.0.0.1") -> int:
        for _ in range(BAND):
            port = self.next
            self.next = self.start + (self.next - self.start + 1) % BAND
            self.handed += 1
            if _bindable(port, host):
                return port
        return _kernel_port(host)


def free_port_for_this_worker() -> WorkerPorts | None:
    """A ``free_port`` replacement for this xdist worker, or None (keep the kernel's)."""
    index = worker_index()
    if index is None or index >= WORKERS:
        return None
    return WorkerPorts(index)
