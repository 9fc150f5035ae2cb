"""The delivery engine: a background task that sends due deliveries and records every attempt.

- Picking: due rows (pending and due, or 'sending' whose lease ran out) are claimed one by one
  with a compare-and-set on their ``version``, so replicas sharing a database never send the
  same attempt twice.
- Bounded concurrency per destination (the SMTP server, or one partner's origin) with asyncio
  semaphores; a row is claimed only when its destination has a free slot, so a slow or dead
  partner holds its own slots and nothing else.
- Crash safety: a row is marked 'sending' (committed) before the call and its outcome recorded
  after. If the process dies in between, the lease runs out and the delivery is sent once more,
  with the same ``webhook-id`` / ``Message-ID`` so the recipient can tell; the lost attempt is
  recorded as 'interrupted'. At least once, never silently lost.
- Retries: for 5xx, 408, 429, timeouts and connection errors (SMTP 4xx), with jitter and
  honouring Retry-After: webhooks on their schedule over days (``RetrySchedule``), mail with a
  shorter exponential backoff; failure at once for other 4xx (SMTP 5xx), failure after the
  last attempt. A webhook answered 410 Gone disables its subscription and sets its waiting
  deliveries aside (held) until programme staff re-enable it.
- Isolation: a delivery that cannot be prepared (a contact mail cannot carry, a bug met by one
  row) fails alone with the reason; only the database being unavailable fails a whole pass,
  which is retried with backoff and counted in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import col
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from yts_chassis.database import Database
from yts_chassis.logs import get_logger
from yts_chassis.retrying import Backoff, warn_before_retry

from yts_notifications.domain import Verdict, backoff, summary_due, unreachable
from yts_notifications.egress import Resolver, system_resolver
from yts_notifications.mail import Mailer
from yts_notifications.planning import SMTP_DESTINATION, DeliveryPlanner, held_because
from yts_notifications.preparation import Abandon, Hold, MailOut, Prepared, Preparer, Wait
from yts_notifications.settings import NotificationsSettings
from yts_notifications.store import Channel, Delivery, DeliveryAttempt, DeliveryStatus
from yts_notifications.webhooks import WebhookOut, WebhookSender

log = get_logger(__name__)

ATTEMPTS = Counter(
    "yts_notification_attempts_total",
    "mail and webhook attempts, by channel and outcome (delivered, retry, failed)",
    ["channel", "outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "yts_notification_attempt_seconds", "duration of one mail or webhook attempt", ["channel"]
)
FAILED_PASSES = Counter(
    "yts_notification_engine_failed_passes_total",
    "delivery engine passes that failed (the database unavailable...); each is retried",
)
FAILING_PASSES = Gauge(
    "yts_notification_engine_failing_passes",
    "delivery engine passes failed in a row: 0 while it works, growing while nothing is sent",
)
DELIVERIES = Gauge(
    "yts_notification_deliveries",
    "deliveries in the database not delivered, by channel and status (pending, sending, "
    "failed, held); the same count on every replica",
    ["channel", "status"],
)
UNDELIVERED = (
    DeliveryStatus.pending,
    DeliveryStatus.sending,
    DeliveryStatus.failed,
    DeliveryStatus.held,
)

Clock = Callable[[], datetime]


class _Lost(Exception):
    pass


def _count_failed_pass(retry_state: RetryCallState) -> None:
    FAILED_PASSES.inc()
    FAILING_PASSES.set(retry_state.attempt_number)


def _database_unavailable(error: Exception) -> bool:
    """An error of the database rather than of one delivery (connection lost or refused,
    SQLite locked): it says nothing against the delivery met while it happened. Not any
    OSError: a template that cannot be found is one too, and is the delivery's own."""
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)
    # Drivers raise these unwrapped while connecting (asyncpg: refused, reset, timed out).
    return isinstance(error, ConnectionError | TimeoutError | socket.gaierror)


@dataclass(frozen=True)
class Claim:
    delivery_id: uuid.UUID
    version: int
    attempt: int
    attempt_limit: int
    destination: str
    subscription_id: uuid.UUID | None
    started_at: datetime
    work: MailOut | WebhookOut


class Skipped(Enum):
    """Why a due delivery was not claimed for an attempt."""

    lost = "another replica moved it first"
    failed_or_held = "failed or held without an attempt"
    waiting = "set waiting for its recipient"


class DeliveryEngine:
    def __init__(
        self,
        db: Database,
        settings: NotificationsSettings,
        preparer: Preparer,
        mailer: Mailer,
        clock: Clock,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.db = db
        self.settings = settings
        self.preparer = preparer
        self.mailer = mailer
        self.clock = clock
        self.resolver = resolver
        self.webhooks: WebhookSender | None = None
        # Makes deliveries (intake, weekly summaries) and wakes this engine once they commit.
        self.planner = DeliveryPlanner(db, settings, clock, self.wake)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._summaries_checked = 0.0
        self._deliveries_counted = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._wake = asyncio.Event()
        self.webhooks = WebhookSender(
            self.settings.webhook_timeout_seconds,
            allow_loopback=self.settings.allow_insecure_loopback_webhooks,
            resolver=self.resolver,
        )
        self._loop_task = asyncio.create_task(self._run(), name="delivery-engine")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop picking, let attempts in flight finish for a while, then cancel the rest:
        their rows stay 'sending' and are taken over when the lease runs out."""
        self._stopping = True
        self.wake()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._in_flight:
            _done, pending = await asyncio.wait(set(self._in_flight), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self.webhooks is not None:
            await self.webhooks.aclose()

    def wake(self) -> None:
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        # A failed pass (the database away) is counted and tried again, forever: 1 s doubling
        # to 30 s.
        passes = AsyncRetrying(
            wait=Backoff(1.0, 30.0),
            retry=retry_if_exception_type(Exception),
            after=_count_failed_pass,
            before_sleep=warn_before_retry(log, "delivery engine pass failed"),
        )
        while not self._stopping:
            pause: float | None = await passes(self._pass)
            FAILING_PASSES.set(0)
            if pause is None:
                continue  # more is due than one batch: go on at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def _pass(self) -> float | None:
        """Plan, count and send what is due; how long to wait before the next pass, or None
        when more is due at once."""
        self._wake.clear()
        await self._plan_summaries_if_due()
        await self._count_deliveries_if_due()
        if await self._dispatch_due():
            return None
        return await self._until_next_due()

    async def _until_next_due(self) -> float:
        """Seconds until the next retry falls due (a retry is punctual whatever the poll); new
        deliveries and freed slots wake the loop earlier."""
        busy = [d for d, slot in self._slots.items() if slot.locked()]
        async with self.db.session() as session:
            soonest = (
                await session.execute(
                    select(func.min(col(Delivery.next_attempt_at))).where(
                        col(Delivery.status) == DeliveryStatus.pending.value,
                        col(Delivery.destination).not_in(busy),
                    )
                )
            ).scalar_one_or_none()
        poll = self.settings.delivery_poll_seconds
        if soonest is None:
            return poll
        return max(0.0, min(poll, (soonest - self.clock()).total_seconds()))

    async def _plan_summaries_if_due(self) -> None:
        if time.monotonic() - self._summaries_checked < self.settings.summary_check_seconds:
            return
        self._summaries_checked = time.monotonic()
        settings = self.settings
        week = summary_due(
            self.clock(), settings.zone, settings.summary_weekday, settings.summary_hour
        )
        async with self.db.transaction() as session:
            await self.planner.plan_weekly_summaries(session, week)

    async def _count_deliveries_if_due(self) -> None:
        """The gauges of deliveries not delivered, counted at most once per poll interval."""
        if time.monotonic() - self._deliveries_counted < self.settings.delivery_poll_seconds:
            return
        self._deliveries_counted = time.monotonic()
        async with self.db.session() as session:
            result = await session.execute(
                select(col(Delivery.channel), col(Delivery.status), func.count())
                .where(col(Delivery.status).in_([status.value for status in UNDELIVERED]))
                .group_by(col(Delivery.channel), col(Delivery.status))
            )
            counts = {(channel, status): count for channel, status, count in result.all()}
        for channel in Channel:
            for status in UNDELIVERED:
                DELIVERIES.labels(channel.value, status.value).set(
                    counts.get((channel.value, status.value), 0)
                )

    def _slot(self, destination: str) -> asyncio.Semaphore:
        if destination not in self._slots:
            size = (
                self.settings.mail_concurrency
                if destination == SMTP_DESTINATION
                else self.settings.webhook_concurrency_per_destination
            )
            self._slots[destination] = asyncio.Semaphore(size)
        return self._slots[destination]

    async def _dispatch_due(self) -> bool:
        """Claim and launch what is due where a slot is free; True when the batch was full."""
        now = self.clock()
        busy = [d for d, slot in self._slots.items() if slot.locked()]
        due = or_(
            and_(
                col(Delivery.status) == DeliveryStatus.pending.value,
                col(Delivery.next_attempt_at) <= now,
            ),
            and_(
                col(Delivery.status) == DeliveryStatus.sending.value,
                col(Delivery.lease_until) <= now,
            ),
        )
        async with self.db.session() as session:
            result = await session.execute(
                select(col(Delivery.id), col(Delivery.version), col(Delivery.destination))
                .where(due, col(Delivery.destination).not_in(busy))
                .order_by(col(Delivery.next_attempt_at))
                .limit(self.settings.delivery_batch_size)
            )
            candidates = result.all()
        taken = 0
        for delivery_id, version, destination in candidates:
            if self._stopping:
                break
            slot = self._slot(destination)
            if slot.locked():
                continue  # this destination is saturated: its rows wait, the others go on
            claim = await self._claim(delivery_id, version)
            if claim is Skipped.lost:
                continue
            taken += 1
            if claim is Skipped.failed_or_held or claim is Skipped.waiting:
                continue
            await slot.acquire()  # free (checked above): returns at once
            task = asyncio.create_task(self._attempt(claim, slot), name=f"delivery-{delivery_id}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        # A full batch that took something: more may be due at once. One that took nothing
        # (other replicas took it all) waits like any other pass, instead of spinning.
        return taken > 0 and len(candidates) >= self.settings.delivery_batch_size

    def _lease(self, channel: str) -> float:
        timeout = (
            self.settings.webhook_timeout_seconds
            if channel == Channel.webhook.value
            else self.settings.smtp_timeout_seconds
        )
        return timeout + self.settings.delivery_lease_margin_seconds

    async def _claim(self, delivery_id: uuid.UUID, version: int) -> Claim | Skipped:
        try:
            claim = await self._claim_once(delivery_id, version)
        except _Lost:
            return Skipped.lost  # the compare-and-set failed: the transaction rolled back
        except Exception as error:
            if _database_unavailable(error):
                raise  # every row would meet it: the pass fails and is retried
            # Something about this delivery alone. Left pending, it would roll the pass back
            # and be picked first again, forever, holding up every delivery behind it.
            log.exception("delivery could not be prepared", delivery_id=str(delivery_id))
            return await self._fail_unprepared(delivery_id, version, error)
        if claim is Skipped.waiting:
            await self._recheck_recipient(delivery_id)
        return claim

    async def _fail_unprepared(
        self, delivery_id: uuid.UUID, version: int, error: Exception
    ) -> Skipped:
        now = self.clock()
        async with self.db.transaction() as session:
            moved = await session.execute(
                update(Delivery)
                .where(col(Delivery.id) == delivery_id, col(Delivery.version) == version)
                .values(
                    status=DeliveryStatus.failed.value,
                    last_result=f"not sent: it could not be prepared ({type(error).__name__}: "
                    f"{error})",
                    lease_until=None,
                    version=version + 1,
                    updated_at=now,
                )
            )
        failed = moved.rowcount == 1  # type: ignore[attr-defined]
        return Skipped.failed_or_held if failed else Skipped.lost

    async def _recheck_recipient(self, delivery_id: uuid.UUID) -> None:
        """Look once more, after the wait is committed, for the recipient it waits for.

        A contact committed while this delivery was being set waiting wakes nothing (the row
        was not waiting yet); one committed after it wakes the row itself. Looking again now
        covers the first case, so the mail goes at once instead of at the next recheck."""
        async with self.db.transaction() as session:
            delivery = await session.get(Delivery, delivery_id, populate_existing=True)
            if delivery is None or delivery.waiting_for is None:
                return
            try:
                prepared: Prepared | None = await self.preparer.prepare(session, delivery)
            except Exception as error:
                if _database_unavailable(error):
                    raise
                prepared = None  # due now: its claim records why it cannot be prepared
            if isinstance(prepared, Wait):
                return
            await session.execute(
                update(Delivery)
                .where(col(Delivery.id) == delivery_id, col(Delivery.version) == delivery.version)
                .values(next_attempt_at=self.clock())
            )
        self.wake()

    async def _claim_once(self, delivery_id: uuid.UUID, version: int) -> Claim | Skipped:
        async with self.db.transaction() as session:
            delivery = await session.get(Delivery, delivery_id, populate_existing=True)
            if delivery is None or delivery.version != version:
                return Skipped.lost
            now = self.clock()
            # Read before the UPDATE below: an ORM update refreshes ``delivery`` in place.
            attempt = delivery.attempts + 1
            attempt_limit, destination = delivery.attempt_limit, delivery.destination
            subscription_id = delivery.subscription_id
            interrupted = delivery.status == DeliveryStatus.sending.value
            if interrupted:
                session.add(
                    DeliveryAttempt(
                        delivery_id=delivery.id,
                        number=delivery.attempts,
                        started_at=delivery.updated_at,
                        outcome="interrupted",
                        error="the sender stopped during this attempt: it may have arrived; "
                        "sent again with the same id",
                    )
                )
            prepared: Prepared = await self.preparer.prepare(session, delivery)
            changes: dict[str, object]
            if isinstance(prepared, Wait):
                changes = {
                    "status": DeliveryStatus.pending.value,
                    "waiting_for": prepared.waiting_for,
                    "last_result": prepared.reason,
                    "lease_until": None,
                    "next_attempt_at": now
                    + timedelta(seconds=self.settings.recipient_recheck_seconds),
                }
            elif isinstance(prepared, Hold):
                changes = {
                    "status": DeliveryStatus.held.value,
                    "last_result": held_because(prepared.reason),
                    "lease_until": None,
                }
            elif isinstance(prepared, Abandon) or delivery.attempts >= delivery.attempt_limit:
                reason = (
                    prepared.reason
                    if isinstance(prepared, Abandon)
                    else f"gave up after {delivery.attempts} attempts"
                )
                changes = {
                    "status": DeliveryStatus.failed.value,
                    "last_result": reason,
                    "lease_until": None,
                }
            else:
                changes = {
                    "status": DeliveryStatus.sending.value,
                    "attempts": attempt,
                    "waiting_for": None,
                    "lease_until": now + timedelta(seconds=self._lease(delivery.channel)),
                }
                if isinstance(prepared, MailOut):
                    changes.update(recipient=prepared.to, school_id=prepared.school_id)
            moved = await session.execute(
                update(Delivery)
                .where(col(Delivery.id) == delivery_id, col(Delivery.version) == version)
                .values(**changes, version=version + 1, updated_at=now)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _Lost
            if changes["status"] == DeliveryStatus.pending.value:
                return Skipped.waiting
            if changes["status"] != DeliveryStatus.sending.value:
                return Skipped.failed_or_held
            assert isinstance(prepared, MailOut | WebhookOut)
            return Claim(
                delivery_id=delivery_id,
                version=version + 1,
                attempt=attempt,
                attempt_limit=attempt_limit,
                destination=destination,
                subscription_id=subscription_id,
                started_at=now,
                work=prepared,
            )

    async def _attempt(self, claim: Claim, slot: asyncio.Semaphore) -> None:
        started = time.perf_counter()
        try:
            if isinstance(claim.work, MailOut):
                verdict = await self.mailer.send(claim.work.message)
            else:
                assert self.webhooks is not None
                verdict = await self.webhooks.send(claim.work)
        except Exception as exc:  # a bug or an unforeseen library error: try again later
            log.exception("delivery attempt raised", delivery_id=str(claim.delivery_id))
            verdict = unreachable(f"unexpected error: {exc!r}")
        finally:
            slot.release()
            self.wake()  # a slot is free: what waited for it may go now
        duration_ms = int((time.perf_counter() - started) * 1000)
        await self._record(claim, verdict, duration_ms)

    async def _record(self, claim: Claim, verdict: Verdict, duration_ms: int) -> None:
        # Unrecorded, the lease runs out and the delivery is sent once more: keep trying, five
        # times, 0.5 s doubling in between.
        recording = AsyncRetrying(
            wait=Backoff(0.5, 8.0),
            retry=retry_if_exception_type(Exception),
            stop=stop_after_attempt(5),
            before_sleep=warn_before_retry(
                log, "could not record a delivery attempt", delivery_id=str(claim.delivery_id)
            ),
            reraise=True,
        )
        try:
            await recording(self._record_once, claim, verdict, duration_ms)
        except Exception as exc:
            log.warning(
                "could not record a delivery attempt; given up, its lease will run out",
                delivery_id=str(claim.delivery_id),
                error=repr(exc),
            )

    def _retry_delay(self, claim: Claim, verdict: Verdict) -> float:
        settings = self.settings
        if isinstance(claim.work, MailOut):
            return backoff(
                claim.attempt,
                settings.mail_backoff_base_seconds,
                settings.mail_backoff_max_seconds,
                verdict.retry_after,
            )
        schedule = settings.webhook_retries
        # Which attempt of its round this was: a manual retry or a re-enabling starts a round.
        attempt_of_round = claim.attempt - (claim.attempt_limit - schedule.attempts)
        return schedule.delay(attempt_of_round, verdict.retry_after)

    async def _record_once(self, claim: Claim, verdict: Verdict, duration_ms: int) -> None:
        now = self.clock()
        outcome = verdict.outcome
        changes: dict[str, object] = {"lease_until": None, "last_result": verdict.result}
        retry_at: datetime | None = None
        gone = outcome == "gone" and claim.subscription_id is not None
        gone_because = f"the endpoint answered {verdict.result}"
        if outcome == "delivered":
            changes.update(status=DeliveryStatus.delivered.value, delivered_at=now)
        elif gone:
            outcome = "disabled"
            changes.update(status=DeliveryStatus.held.value, last_result=held_because(gone_because))
        elif outcome == "retry" and claim.attempt < claim.attempt_limit:
            retry_at = now + timedelta(seconds=self._retry_delay(claim, verdict))
            changes.update(status=DeliveryStatus.pending.value, next_attempt_at=retry_at)
        else:
            if outcome == "retry":
                outcome = "failed"
                changes["last_result"] = (
                    f"{verdict.result} (gave up after {claim.attempt} attempts)"
                )
            changes.update(status=DeliveryStatus.failed.value)
        async with self.db.transaction() as session:
            session.add(
                DeliveryAttempt(
                    delivery_id=claim.delivery_id,
                    number=claim.attempt,
                    started_at=claim.started_at,
                    outcome=outcome,
                    http_status=verdict.http_status,
                    smtp_reply=verdict.smtp_reply,
                    error=verdict.error,
                    duration_ms=duration_ms,
                    retry_at=retry_at,
                )
            )
            moved = await session.execute(
                update(Delivery)
                .where(
                    col(Delivery.id) == claim.delivery_id,
                    col(Delivery.version) == claim.version,
                )
                .values(**changes, version=claim.version + 1, updated_at=now)
            )
            if gone and moved.rowcount == 1:  # type: ignore[attr-defined]
                assert claim.subscription_id is not None
                await self.planner.disable_endpoint(session, claim.subscription_id, gone_because)
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            log.warning(
                "delivery changed during its attempt (deleted subscription or manual action); "
                "attempt recorded, state kept",
                delivery_id=str(claim.delivery_id),
            )
        elif gone:
            log.warning(
                "webhook endpoint gone: subscription disabled, its deliveries held",
                subscription_id=str(claim.subscription_id),
                destination=claim.destination,
            )
        channel = "mail" if isinstance(claim.work, MailOut) else "webhook"
        ATTEMPTS.labels(channel, outcome).inc()
        ATTEMPT_SECONDS.labels(channel).observe(duration_ms / 1000)
        log.info(
            "delivery attempt",
            channel=channel,
            delivery_id=str(claim.delivery_id),
            destination=claim.destination,
            attempt=claim.attempt,
            outcome=outcome,
            result=verdict.result,
            duration_ms=duration_ms,
            next_attempt_at=retry_at.isoformat() if retry_at else None,
        )
