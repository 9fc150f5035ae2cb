"""What a running service is made of, wired once: settings -> logging -> database -> broker ->
outbox relay -> HTTP app. Each service's ``main.py`` builds one ``ServiceRuntime`` and hands it
its routers and subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from faststream.nats import NatsRouter
from nats.js.client import JetStreamContext
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.routing import Match
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from yts_chassis.access.view import AccessView
from yts_chassis.auth import Authenticator
from yts_chassis.bodylimit import RequestBodyLimit
from yts_chassis.broker import make_broker
from yts_chassis.consumer import EventConsumer, EventHandler, RetryPolicy
from yts_chassis.database import Database
from yts_chassis.deadletter import DeadLetters
from yts_chassis.errors import PROBLEM_RESPONSES, document_problems, install_problem_handlers
from yts_chassis.health import health_router
from yts_chassis.idempotency import IdempotencyKeys, install_idempotency
from yts_chassis.inbox import Inbox
from yts_chassis.logs import configure_logging, get_logger
from yts_chassis.metrics import HTTP_LATENCY, HTTP_REQUESTS
from yts_chassis.migrations import upgrade_async
from yts_chassis.outbox import Outbox, OutboxRelay
from yts_chassis.redrive import DeadLetterShelf
from yts_chassis.redrive_api import dead_letters_router
from yts_chassis.refusals import Refused, answer_refusal
from yts_chassis.retrying import Backoff, warn_before_retry
from yts_chassis.settings import ServiceSettings
from yts_chassis.tables import MessagingTables
from yts_chassis.topology import DurableConsumer

log = get_logger(__name__)


class Worker(Protocol):
    """Background work the runtime starts and stops with the service."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


async def _stop_subscriber(subscriber: Any) -> None:
    try:
        await subscriber.stop()
    except Exception as exc:
        log.warning("subscriber stop", error=repr(exc))


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        messaging: MessagingTables,
        migrations: Path,
        *,
        configure_logs: bool = True,
    ) -> None:
        if configure_logs:
            configure_logging(settings.service_name, settings.log_level, settings.log_format)
        self.settings = settings
        self.service = settings.service_name
        self.migrations = migrations
        self.db = Database(settings.database_url)
        self.broker = make_broker(settings)
        self.outbox = Outbox(messaging, settings.cloudevents_source)
        self.inbox = Inbox(messaging)
        self.dead_letters = DeadLetters(self.service, self.jetstream)
        self.relay = OutboxRelay(
            self.db,
            self.outbox,
            self.jetstream,
            service=self.service,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            publish_timeout=settings.publish_timeout_seconds,
        )
        # Who may call: a copy of the access buckets, followed once NATS is connected.
        self.access = AccessView()
        self.tokens = Authenticator(
            settings.admin_token, self.access, load_wait_seconds=settings.access_load_wait_seconds
        )
        self.idempotency = IdempotencyKeys(
            self.db,
            messaging.idempotency,
            timedelta(hours=settings.idempotency_retention_hours),
        )
        self.retry = RetryPolicy(
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
            max_attempts=settings.max_handler_attempts,
        )
        # Background work of the service (notifications' delivery engine), run inside the
        # app's lifespan: started after the broker's connection, stopped before it.
        self.workers: list[Worker] = []
        # The service's event consumers by durable name (``consumer``), for redrives.
        self.consumers: dict[str, EventConsumer] = {}
        self._js: JetStreamContext | None = None
        self._connector: asyncio.Task[None] | None = None
        self.broker_started = False

    # -- messaging -------------------------------------------------------------------------

    def jetstream(self) -> JetStreamContext | None:
        """The JetStream context of the broker's connection, or None while disconnected."""
        try:
            connection = self.broker.connection
        except Exception:
            return None
        if connection is None or not connection.is_connected:
            return None
        if self._js is None or self._js._nc is not connection:
            self._js = connection.jetstream()
        return self._js

    def consumer(
        self, durable: DurableConsumer, handlers: Mapping[str, EventHandler]
    ) -> EventConsumer:
        """The consumer of ``durable``, registered so that its dead letters can be redriven
        through it (``/v1/dead-letters``)."""
        consumer = EventConsumer(
            service=self.service,
            consumer=durable.durable,
            db=self.db,
            inbox=self.inbox,
            dead_letters=self.dead_letters,
            handlers=handlers,
            retry=self.retry,
            heartbeat_seconds=durable.ack_wait_seconds / 3,
            max_body_bytes=self.settings.max_event_bytes,
        )
        self.consumers[durable.durable] = consumer
        return consumer

    async def nats_ready(self) -> bool:
        return self.broker_started and self.jetstream() is not None

    async def _connect_broker(self) -> None:
        """Connect and start subscribers, retrying while NATS is away (forever, 0.5 s doubling
        to 10 s): the HTTP side serves meanwhile and the outbox keeps events."""
        warn = warn_before_retry(log, "NATS not reachable or consumers missing; retrying")

        async def before_retry(retry_state: RetryCallState) -> None:
            warn(retry_state)
            try:
                await self.broker.stop()  # what the failed start left half open
            except Exception as stop_exc:
                log.debug("broker stop after failed start", error=repr(stop_exc))

        connecting = AsyncRetrying(
            wait=Backoff(0.5, 10.0),
            retry=retry_if_exception_type(Exception),
            before_sleep=before_retry,
        )
        await connecting(self.broker.start)
        self.broker_started = True
        self.access.start(self.jetstream)
        self.relay.wake()
        log.info("connected to NATS", servers=self.settings.nats_servers)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Migrate, start the relay and the connection to NATS (in the background: HTTP
        serves while NATS is away), then the service's workers."""
        await upgrade_async(self.settings.database_url, self.migrations)
        self.relay.start()
        self._connector = asyncio.create_task(self._connect_broker(), name="nats-connect")
        for worker in self.workers:
            worker.start()

    async def stop(self) -> None:
        """Drain: stop the service's workers, stop every subscriber at once (each stops
        fetching, lets its in-flight handler finish within FastStream's graceful timeout and
        naks what it was delivered and never handled), publish what the outbox holds
        (until it is empty or 5 s have passed), then close the connection. A SIGKILL at any
        point loses nothing either: unacked messages come back, unpublished outbox rows
        wait."""
        for worker in reversed(self.workers):
            try:
                await worker.stop()
            except Exception as exc:
                log.warning("worker stop", worker=type(worker).__name__, error=repr(exc))
        if self._connector is not None and not self._connector.done():
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        await self.access.stop()
        if self.broker_started:
            # Together, not one after another: the stop is bounded by the slowest handler,
            # not by the sum of them (notifications has four subscribers).
            await asyncio.gather(
                *(_stop_subscriber(subscriber) for subscriber in self.broker.subscribers)
            )
        await self.relay.stop()
        try:
            await self.broker.stop()
        except Exception as exc:
            log.debug("broker stop", error=repr(exc))
        self.broker_started = False
        await self.db.dispose()

    # -- HTTP ------------------------------------------------------------------------------

    def create_app(
        self,
        *,
        title: str,
        description: str,
        version: str = "0.1.0",
        routers: Sequence[APIRouter] = (),
        subscriptions: Sequence[NatsRouter] = (),
        workers: Sequence[Worker] = (),
        openapi_tags: list[dict[str, Any]] | None = None,
    ) -> FastAPI:
        """The service's ASGI app; its lifespan runs the runtime (``start`` and ``stop``),
        including ``workers``."""
        self.workers.extend(workers)
        for subscription in subscriptions:
            self.broker.include_router(subscription)
        runtime = self

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await runtime.start()
            try:
                yield
            finally:
                await runtime.stop()

        # Swagger UI and ReDoc from files in the fastapi-offline package: /docs works offline.
        app = FastAPIOffline(
            title=title,
            description=description,
            version=version,
            lifespan=lifespan,
            openapi_tags=openapi_tags,
        )
        app.state.runtime = self
        app.state.tokens = self.tokens
        install_problem_handlers(app)
        # What the services' rules refuse (yts_chassis.refusals), answered alike everywhere.
        app.add_exception_handler(Refused, answer_refusal)
        # Innermost: it sees every answer the routes and the problem handlers give.
        install_idempotency(app, self.idempotency)
        # Added early, so it runs inside the metrics middleware: refused bodies are counted.
        app.add_middleware(RequestBodyLimit, max_bytes=self.settings.max_request_bytes)
        app.add_middleware(_HttpMetrics, service=self.service)
        app.include_router(
            health_router(
                {"database": self.db.ping, "nats": self.nats_ready, "access": self.access.ready},
                details=self._outbox_details,
            )
        )
        for router in routers:
            app.include_router(router, responses=PROBLEM_RESPONSES)
        if self.consumers:  # built by the subscriptions handed in above
            shelf = DeadLetterShelf(self.service, self.consumers, self.jetstream)
            app.include_router(dead_letters_router(shelf), responses=PROBLEM_RESPONSES)
        document_problems(app)
        return app

    async def _outbox_details(self) -> dict[str, Any]:
        try:
            async with self.db.session() as session:
                pending = await self.outbox.pending(session)
        except Exception:
            return {}
        return {"outbox_pending": pending}


class _HttpMetrics(BaseHTTPMiddleware):
    def __init__(self, app: Any, service: str) -> None:
        super().__init__(app)
        self.service = service

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        path = _route_path(request)
        HTTP_REQUESTS.labels(self.service, request.method, path, response.status_code).inc()
        HTTP_LATENCY.labels(self.service, request.method, path).observe(
            time.perf_counter() - started
        )
        return response


def _route_path(request: Request) -> str:
    """The route template a request matched (``/v1/trainers/{trainer_id}``), to label metrics
    without one series per id; routes outside FastAPI's own (the docs, their assets) do not set
    ``scope["route"]``, so they are looked up; "unmatched" only when no route matches."""
    route = request.scope.get("route")
    if route is None:
        for candidate in request.app.router.routes:
            match, _ = candidate.matches(request.scope)
            if match is Match.FULL:
                route = candidate
                break
    return str(getattr(route, "path", "unmatched"))
