"""SIGTERM on a real process: the sessions service (uvicorn, as ``yts up`` and the Dockerfile
run it) is told to stop while it serves HTTP commands, applies incoming enrolment events and
publishes its outbox. It must drain: stop within the grace period, cleanly; keep every command
it answered with a 2xx; ack what it applied and apply what it acked, so that nothing already
applied comes back as new work; publish its outbox and mark what it published, so that a restart
publishes the rest once and applies no event twice."""

from __future__ import annotations

import asyncio
import inspect
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from sqlalchemy import select
from yts_chassis.database import Database
from yts_chassis.outbox import OutboxRelay
from yts_chassis.settings import ServiceSettings
from yts_contracts.enrolment import TrainerEnrolled
from yts_contracts.envelope import to_nats
from yts_contracts.streams import ENROLMENT_STREAM, MILESTONES_STREAM, SESSIONS_STREAM
from yts_deploy.natsserver import NatsServer, free_port
from yts_deploy.runner import ServiceProcess, service_env, wait_ready
from yts_sessions.store import ModuleCompletion, messaging
from yts_sessions.subscriptions import ROSTER as SESSIONS_ROSTER

from tests.chassis.rig import applied_names, consumer_rig, record_school, school_event
from tests.support.broker import provisioned_server
from tests.support.events import stream_messages
from tests.support.metrics import events_handled
from tests.support.services import ADMIN_TOKEN, eventually
from tests.support.sessions_roster import CORE_MODULES, Enrolment, cohort_dates

# Docker stops a container with SIGTERM and kills it this long after (compose sets no
# stop_grace_period, so Docker's default); uvicorn runs with --timeout-graceful-shutdown 10.
# Real processes, a few hundred commands and a nats-server restart: more than pytest's default
# 120 s on a busy two-core machine.
pytestmark = pytest.mark.timeout(360)

GRACE_SECONDS = 10.0
# uvicorn (0.29 and later) raises the signal it caught again once its shutdown is complete, so
# a clean stop on SIGTERM ends "terminated by SIGTERM" (143 in a shell, -15 from Popen); its
# log says whether the application's shutdown completed.
CLEAN_EXITS = (0, -signal.SIGTERM)
SHUTDOWN_COMPLETE = "Application shutdown complete."
RELAY_DRAIN_SECONDS: float = inspect.signature(OutboxRelay.stop).parameters["drain_timeout"].default
RELAY_BATCH: int = ServiceSettings.model_fields["outbox_batch_size"].default
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own, provisioned: the load stays out of shared streams."""
    with NatsServer(store_dir=tmp_path / "nats", name="yts-shutdown") as server:
        yield server


@pytest.fixture
async def sessions(
    nats_server: NatsServer, database_factory: Any, tmp_path: Path
) -> AsyncIterator[Sessions]:
    await provisioned_server(nats_server.url)
    database_url = await database_factory("sessions")
    process = ServiceProcess(
        name="sessions",
        port=free_port(),
        env=service_env(
            "sessions",
            nats_url=nats_server.url,
            database_url=database_url,
            admin_token=ADMIN_TOKEN,
            extra={"YTS_SESSIONS_LOG_LEVEL": "INFO"},
        ),
        log_path=tmp_path / "sessions.log",
    )
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        yield Sessions(process, database_url, nc.jetstream())
    finally:
        process.kill()
        await nc.close()


@dataclass
class Sessions:
    process: ServiceProcess
    database_url: str
    js: JetStreamContext

    @property
    def url(self) -> str:
        return self.process.url

    async def start(self) -> None:
        self.process.start()
        await asyncio.to_thread(wait_ready, self.url, 60.0, lambda: self.process.alive)

    async def sigterm(self) -> Stop:
        """SIGTERM, then how it ended (killed if still running after 3 x the grace)."""
        process = self.process.process
        assert process is not None
        logged = self.process.log_path.stat().st_size
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(process.wait, 3 * GRACE_SECONDS)
        except Exception:
            self.process.kill()
            raise
        took = time.monotonic() - began
        with self.process.log_path.open("rb") as log:
            log.seek(logged)
            return Stop(code, took, log.read().decode(errors="replace"))

    def log_tail(self, lines: int = 30) -> str:
        text = self.process.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Stop:
    code: int
    seconds: float
    log: str  # what the service logged from the signal on

    @property
    def clean(self) -> bool:
        return self.code in CLEAN_EXITS and SHUTDOWN_COMPLETE in self.log


@dataclass
class Roster:
    school_id: uuid.UUID
    cohort_id: uuid.UUID
    trainers: list[uuid.UUID]
    events: list[str]  # ids of the enrolment events published for it


async def roster_of(sessions: Sessions, trainers: int) -> Roster:
    """A school, a cohort running now and trainers, published as enrolment publishes them and
    applied by sessions (in order: once the last trainer is known, all are)."""
    enrolment = Enrolment(sessions.js)
    school_id = await enrolment.school()
    cohort_id = await enrolment.cohort(*cohort_dates())
    ids = [await enrolment.trainer(school_id, cohort_id) for _ in range(trainers)]
    async with httpx.AsyncClient(base_url=sessions.url, headers=AUTH) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (await client.get(f"/v1/trainers/{ids[-1]}/progress")).is_success:
                break
            await asyncio.sleep(0.1)
    return Roster(school_id, cohort_id, ids, list(enrolment.published))


def module_completions(roster: Roster) -> asyncio.Queue[tuple[uuid.UUID, str]]:
    pairs: asyncio.Queue[tuple[uuid.UUID, str]] = asyncio.Queue()
    for module_id in CORE_MODULES:
        for trainer_id in roster.trainers:
            pairs.put_nowait((trainer_id, module_id))
    return pairs


@dataclass
class Load:
    completed: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # answered 2xx
    answers: Counter[int] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    published: dict[int, str] = field(default_factory=dict)  # stream seq -> event id
    stopping: bool = False


async def post_completions(
    url: str, pairs: asyncio.Queue[tuple[uuid.UUID, str]], load: Load
) -> None:
    """Module completions one after another until none are left or the service stopped."""
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=15) as client:
        while not pairs.empty():
            trainer_id, module_id = pairs.get_nowait()
            try:
                response = await client.post(
                    f"/v1/trainers/{trainer_id}/module-completions", json={"module_id": module_id}
                )
            except httpx.TransportError as exc:
                load.unanswered[type(exc).__name__] += 1
                if load.stopping:
                    return  # the service has stopped listening
                await asyncio.sleep(0.05)
                continue
            load.answers[response.status_code] += 1
            if response.is_success:
                load.completed.append((trainer_id, module_id))


async def publish_enrolments(
    js: JetStreamContext, roster: Roster, load: Load, stop: asyncio.Event
) -> None:
    """Trainers enrolled, as the enrolment service publishes them, until told to stop."""
    for _ in range(20_000):  # bounded; the stop comes long before
        if stop.is_set():
            return
        data = TrainerEnrolled(
            trainer_id=uuid.uuid4(),
            school_id=roster.school_id,
            cohort_id=roster.cohort_id,
            grade=10,
            gender="female",
            languages=["kk"],
            enrolled_at=datetime.now(UTC),
        )
        envelope = to_nats(data, source="/yts/enrolment", event_id=uuid.uuid4())
        ack = await js.publish(envelope.subject, envelope.body, headers=envelope.headers)
        load.published[ack.seq] = envelope.event_id
        await asyncio.sleep(0.003)


@dataclass
class Stored:
    """What the service's database holds."""

    completions: dict[tuple[uuid.UUID, str], str]  # (trainer, module) -> its event's id
    inbox: set[str]
    outbox: dict[str, bool]  # event id -> marked published

    @property
    def unpublished(self) -> int:
        return sum(1 for marked in self.outbox.values() if not marked)


async def stored(database_url: str) -> Stored:
    db = Database(database_url)
    try:
        async with db.session() as session:
            completions = {
                (row.trainer_id, row.module_id): row.event_id
                for row in await session.execute(
                    select(  # type: ignore[call-overload]
                        ModuleCompletion.trainer_id,
                        ModuleCompletion.module_id,
                        ModuleCompletion.event_id,
                    )
                )
            }
            inbox = set(
                (
                    await session.execute(
                        select(messaging.inbox.c.event_id).where(
                            messaging.inbox.c.consumer == SESSIONS_ROSTER.durable
                        )
                    )
                ).scalars()
            )
            outbox = {
                row.event_id: row.published_at is not None
                for row in await session.execute(
                    select(messaging.outbox.c.event_id, messaging.outbox.c.published_at)
                )
            }
    finally:
        await db.dispose()
    return Stored(completions, inbox, outbox)


async def in_streams(js: JetStreamContext) -> Counter[str]:
    """How many times each event id is stored in the streams sessions publishes to."""
    ids: Counter[str] = Counter()
    for stream in (SESSIONS_STREAM, MILESTONES_STREAM):
        for message in await stream_messages(js, stream, timeout=0.5):
            assert message.headers is not None
            ids[message.headers["ce-id"]] += 1
    return ids


def disagreement(outbox: dict[str, bool], streams: Counter[str]) -> tuple[set[str], set[str]]:
    """Rows published but not marked (a restart would publish them again, and only the
    server's ten-minute duplicate window would hide it) and rows marked but not in a stream."""
    unmarked = {event_id for event_id, marked in outbox.items() if not marked and streams[event_id]}
    missing = {event_id for event_id, marked in outbox.items() if marked and not streams[event_id]}
    return unmarked, missing


async def settle(sessions: Sessions, last_seq: int, timeout: float = 60.0) -> Stored:
    """Wait (bounded) until the roster consumer has taken and acked everything up to
    ``last_seq`` and the outbox is published; returns what the database then holds."""
    deadline = time.monotonic() + timeout
    while True:
        info = await sessions.js.consumer_info(SESSIONS_ROSTER.stream, SESSIONS_ROSTER.durable)
        now = await stored(sessions.database_url)
        done = (
            info.delivered.stream_seq >= last_seq
            and info.num_pending == 0
            and info.num_ack_pending == 0
            and now.unpublished == 0
        )
        if done or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.2)


async def test_sigterm_under_load_drains_and_a_restart_applies_and_publishes_nothing_twice(
    sessions: Sessions,
) -> None:
    await sessions.start()
    roster = await roster_of(sessions, trainers=150)  # x 6 modules: more than the load needs
    pairs = module_completions(roster)
    load = Load()
    stop_publishing = asyncio.Event()
    try:
        # Load on both sides: HTTP commands, and events coming in; SIGTERM in the middle.
        publisher = asyncio.create_task(
            publish_enrolments(sessions.js, roster, load, stop_publishing)
        )
        workers = [
            asyncio.create_task(post_completions(sessions.url, pairs, load)) for _ in range(4)
        ]
        await asyncio.sleep(1.5)
        answered_before = sum(load.answers.values())
        events_before = len(load.published)
        load.stopping = True
        first = await sessions.sigterm()
        await asyncio.sleep(0.5)  # enrolment goes on publishing while sessions is down
    finally:
        stop_publishing.set()
    await asyncio.wait_for(asyncio.gather(publisher, *workers), timeout=30)

    # Right after the exit, before anything else runs.
    at_exit = await stored(sessions.database_url)
    roster_at_exit = await sessions.js.consumer_info(
        SESSIONS_ROSTER.stream, SESSIONS_ROSTER.durable
    )
    streams_at_exit = await in_streams(sessions.js)
    # Whatever it took and did not ack is to be had again at once, not after the ack wait.
    held = roster_at_exit.num_ack_pending
    handed_back = await taken_again(sessions.js, SESSIONS_ROSTER.durable, held) if held else []

    # A restart on the same database takes the rest.
    await sessions.start()
    final = await settle(sessions, max(load.published))
    async with httpx.AsyncClient(base_url=sessions.url, timeout=10) as client:
        outcomes = await events_handled(client, SESSIONS_ROSTER.durable)
    second = await sessions.sigterm()
    streams_final = await in_streams(sessions.js)

    published_events = set(roster.events) | set(load.published.values())
    kept = {
        pair
        for pair in load.completed
        if pair in at_exit.completions and at_exit.completions[pair] in at_exit.outbox
    }
    floor = roster_at_exit.ack_floor.stream_seq
    acked = {event_id for seq, event_id in load.published.items() if seq <= floor}
    unmarked, missing = disagreement(at_exit.outbox, streams_at_exit)
    report = "\n".join(
        [
            "graceful shutdown of sessions under load",
            f"  before SIGTERM: {answered_before} HTTP answers, {events_before} events published",
            f"  SIGTERM: exit code {first.code} after {first.seconds:.2f} s (grace "
            f"{GRACE_SECONDS:.0f} s), shutdown complete {first.clean}; the restarted "
            f"instance: exit code {second.code} after {second.seconds:.2f} s",
            f"  HTTP: answers {dict(load.answers)}, no answer {dict(load.unanswered)}; "
            f"{len(load.completed)} answered 2xx, {len(kept)} of them stored with their event "
            f"in the outbox ({len(at_exit.completions)} stored in all)",
            f"  events in: {len(published_events)} published; at exit {len(at_exit.inbox)} in "
            f"the inbox, ack floor {floor}, awaiting ack {roster_at_exit.num_ack_pending}, "
            f"redelivered {roster_at_exit.num_redelivered}; of those awaiting ack, "
            f"{sum(1 for m in handed_back if m.metadata.num_delivered > 1)} handed back",
            f"  after the restart: roster outcomes {dict(sorted(outcomes.items()))}, inbox "
            f"{len(final.inbox)}",
            f"  outbox at exit: {len(at_exit.outbox)} rows, {at_exit.unpublished} not published, "
            f"{len(unmarked)} published but not marked, {len(missing)} marked but not published",
            f"  outbox after the restart: {final.unpublished} of {len(final.outbox)} not "
            f"published; the streams hold {len(streams_final)} ids, "
            f"{sum(1 for n in streams_final.values() if n > 1)} of them more than once",
        ]
    )
    print("\n" + report)
    context = f"{report}\n--- sessions log ---\n{sessions.log_tail()}"

    # It stopped in time, cleanly, with load on both sides.
    assert first.clean, context
    assert first.seconds <= GRACE_SECONDS, context
    assert second.clean, context
    assert load.answers[201] > 0, context
    assert events_before > 0, context
    # Every command answered 2xx is kept, with its event in the outbox.
    assert kept == set(load.completed), context
    assert final.completions == at_exit.completions, context
    # What it acked it applied; what it took and did not handle it handed back, unapplied.
    assert acked <= at_exit.inbox, context
    assert len(handed_back) == held, context
    assert all(m.metadata.num_delivered > 1 for m in handed_back), context
    assert all(m.headers and m.headers["ce-id"] not in at_exit.inbox for m in handed_back)
    # The outbox was drained (NATS was there all along), and it agrees with the streams.
    assert at_exit.unpublished == 0, context
    assert unmarked == set(), context
    assert missing == set(), context
    # After the restart: every event applied once, none again; the outbox published once.
    assert final.inbox == published_events, context
    assert outcomes.get("duplicate", 0) == 0, context
    assert outcomes.get("applied", 0) == len(published_events - at_exit.inbox), context
    assert final.unpublished == 0, context
    assert set(streams_final) == set(final.outbox), context
    assert max(streams_final.values()) == 1, context


async def test_sigterm_while_the_outbox_catches_up_publishes_until_the_deadline_and_marks_it(
    sessions: Sessions, nats_server: NatsServer
) -> None:
    """NATS was away while commands were served: the outbox holds a backlog of several relay
    batches when NATS comes back, and SIGTERM comes while the relay is working through it."""
    await sessions.start()
    # 64 trainers x 6 core modules: 384 commands, 448 events (each trainer's certification
    # too), more than two of the relay's batches of 200; no more load than that needs.
    roster = await roster_of(sessions, trainers=64)
    nats_server.stop()
    load = Load()
    pairs = module_completions(roster)
    workers = [post_completions(sessions.url, pairs, load) for _ in range(4)]
    await asyncio.wait_for(asyncio.gather(*workers), timeout=240)  # a busy machine is slow
    backlog = await stored(sessions.database_url)
    nats_server.start()
    deadline = time.monotonic() + 30
    first_published = 0
    while time.monotonic() < deadline and not first_published:  # the relay is back at work
        try:
            first_published = (await sessions.js.stream_info(SESSIONS_STREAM)).state.messages
        except Exception:
            first_published = 0
        await asyncio.sleep(0.01)
    first = await sessions.sigterm()
    at_exit = await stored(sessions.database_url)
    streams_at_exit = await in_streams(sessions.js)
    await sessions.start()
    final = await settle(sessions, 0)
    second = await sessions.sigterm()
    streams_final = await in_streams(sessions.js)

    unmarked, missing = disagreement(at_exit.outbox, streams_at_exit)
    published_at_exit = len(at_exit.outbox) - at_exit.unpublished
    report = "\n".join(
        [
            "graceful shutdown of sessions while its outbox catches up",
            f"  while NATS was away: {load.answers[201]} commands answered 201, "
            f"{backlog.unpublished} events waiting in the outbox",
            f"  SIGTERM once {first_published} had reached the stream: exit code {first.code} "
            f"after {first.seconds:.2f} s (relay drain {RELAY_DRAIN_SECONDS:.0f} s), shutdown "
            f"complete {first.clean}",
            f"  outbox at exit: {published_at_exit} published, {at_exit.unpublished} waiting; "
            f"{len(unmarked)} published but not marked, {len(missing)} marked but not published",
            f"  after the restart: {final.unpublished} of {len(final.outbox)} not published; the "
            f"streams hold {len(streams_final)} ids, "
            f"{sum(1 for n in streams_final.values() if n > 1)} of them more than once",
        ]
    )
    print("\n" + report)
    context = f"{report}\n--- sessions log ---\n{sessions.log_tail()}"

    assert load.answers[201] == len(CORE_MODULES) * len(roster.trainers), context
    assert backlog.unpublished > 2 * RELAY_BATCH, context  # several of the relay's batches
    assert first_published < backlog.unpublished, context  # SIGTERM came in the middle
    assert first.clean, context
    assert first.seconds <= GRACE_SECONDS, context
    assert second.clean, context
    # Nothing published is left unmarked (it would be published again after a restart).
    assert unmarked == set(), context
    assert missing == set(), context
    # The relay published until the outbox was empty or its drain time was up, not one batch.
    if at_exit.unpublished:
        assert first.seconds >= RELAY_DRAIN_SECONDS, context
    assert final.unpublished == 0, context
    assert set(streams_final) == set(final.outbox), context
    assert max(streams_final.values()) == 1, context


async def test_a_stopped_subscriber_hands_back_at_once_what_it_fetched_and_never_handled(
    js: JetStreamContext, provisioned: str, database_factory: Any
) -> None:
    """Messages delivered to a projection's subscription that its handler never got (a pull
    request answered while the handler works on the batch before) when the service stops: they
    must go back at once, not wait out the ack wait (30 s here) while the next instance idles.
    The batch in hand is finished first."""
    working, release = asyncio.Event(), asyncio.Event()

    def slow(_rig: Any) -> Any:
        async def apply(session: Any, event: Any) -> None:
            working.set()
            await release.wait()
            await record_school(session, event)

        return apply

    async with consumer_rig(
        js,
        provisioned,
        await database_factory("stop"),
        batch_size=50,
        batch_timeout=3.0,
        handler=slow,
    ) as rig:
        seqs: list[int] = []
        for name in ("First", "Second", "Third"):
            subject, headers, body = school_event(name)
            seqs.append((await js.publish(subject, body, headers=headers)).seq)
            if name == "First":
                await asyncio.wait_for(working.wait(), timeout=10)  # the handler has it
        (subscriber,) = rig.broker.subscribers
        pull = subscriber.subscription  # type: ignore[attr-defined]
        # A pull request of the subscription's own: its answer lands in the subscription.
        await rig.broker.connection.publish(
            pull._nms, b'{"batch": 2, "no_wait": true}', reply=pull._deliver
        )

        async def held() -> bool:
            info = await js.consumer_info(ENROLMENT_STREAM, rig.durable.durable)
            return info.num_ack_pending == len(seqs)

        await eventually(held)  # delivered, never handed to the handler
        stopping = asyncio.create_task(subscriber.stop())  # as ServiceRuntime.stop does
        await asyncio.sleep(0.2)
        release.set()
        await stopping
        assert await applied_names(rig.db) == ["First"]
        # Another instance gets the other two at once.
        again = await taken_again(js, rig.durable.durable, 2)
        assert sorted(m.metadata.sequence.stream for m in again) == seqs[1:]
        assert [m.metadata.num_delivered for m in again] == [2, 2]


async def taken_again(js: JetStreamContext, durable: str, count: int) -> list[Msg]:
    """Up to ``count`` messages another instance of the durable consumer gets within two
    seconds (then handed back, for whoever comes next)."""
    replica = await js.pull_subscribe_bind(durable=durable, stream=ENROLMENT_STREAM)
    messages: list[Msg] = []
    try:
        messages = await replica.fetch(count, timeout=2.0)
    except TimeoutError:
        pass
    finally:
        for message in messages:
            await message.nak()
        await replica.unsubscribe()
    return messages
