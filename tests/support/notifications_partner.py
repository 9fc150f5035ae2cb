"""A partner's webhook receiver on loopback: a real HTTP server (uvicorn running a Starlette
app) that records each request and answers as the test tells it (a status, a delay, or hanging
until released)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from yts_deploy.natsserver import free_port


@dataclass
class Receipt:
    headers: dict[str, str]
    body: bytes
    answered: int | None = None  # None: no answer was given (hung, or the sender went away)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def cloudevent(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verified(self, secret: str) -> dict[str, Any]:
        """The body, once the Standard Webhooks verifier accepted its signature."""
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload


Responder = Callable[[Receipt], Awaitable[int]]


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test process keeps its own signal handling.
        yield


@dataclass
class Partner:
    name: str
    port: int = field(default_factory=free_port)
    receipts: list[Receipt] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    statuses: list[int] = field(default_factory=list)
    then: int = 200
    responder: Responder | None = None
    _server: _QuietServer | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{self.name}"

    def answer(self, *statuses: int, then: int = 200) -> None:
        """Answer the next requests with ``statuses`` in turn, then with ``then``."""
        self.statuses = list(statuses)
        self.then = then
        self.responder = None

    def respond_with(self, responder: Responder) -> None:
        self.responder = responder

    async def _receive(self, request: Request) -> Response:
        receipt = Receipt(headers=dict(request.headers), body=await request.body())
        self.receipts.append(receipt)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.responder is not None:
                status = await self.responder(receipt)
            else:
                status = self.statuses.pop(0) if self.statuses else self.then
        finally:
            self.in_flight -= 1
        receipt.answered = status
        return Response(status_code=status)

    async def start(self) -> Partner:
        app = Starlette(routes=[Route(f"/hooks/{self.name}", self._receive, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5)

    def about(self, needle: str) -> list[Receipt]:
        """Receipts whose body mentions ``needle`` (an id of the test's own)."""
        return [r for r in self.receipts if needle.encode() in r.body]
