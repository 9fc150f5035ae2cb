"""A limit on the size of HTTP request bodies: 413 problem+json instead of reading it all.

A pure ASGI middleware, because it must see the body as it arrives: a request that declares a
``Content-Length`` over the limit is refused before it is routed (nothing runs, nothing is
read); a body without one (chunked) is counted as it is received and refused once it passes
the limit. The 413 does not ask for ``Connection: close``: uvicorn discards the unread rest, so
a client that writes its whole body before reading still gets the answer (a close would reset
it mid-send). FastAPI's own ``max_body_size`` is not used: when a route does not read the body
it lets the route run, side effects included, and then swaps its answer for a plain-text 413.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yts_chassis.errors import BodyProblem, Problem, problem_response


class RequestBodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(Problem.body_too_large(self.max_bytes), Request(scope))
            await response(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route, where the problem handlers answer it.
                    raise BodyProblem(Problem.body_too_large(self.max_bytes))
            return message

        await self.app(scope, receive_within_limit, send)
