"""``yts up``'s local system for a test: a nats-server and the four services as real processes,
on free ports, in a state folder of the test's, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from yts_deploy.natsserver import free_port
from yts_deploy.runner import SERVICES, LocalSystem


@contextmanager
def running_local_system(state_dir: Path) -> Iterator[LocalSystem]:
    """The local system of ``state_dir``, started and ready; stopped when the block ends."""
    system = LocalSystem(
        state_dir=state_dir,
        nats_port=free_port(),
        http_ports={name: free_port() for name in SERVICES},
        workspace_port=free_port(),
        say=lambda line: None,
    )
    try:
        system.start()
        yield system
    finally:
        system.stop()
