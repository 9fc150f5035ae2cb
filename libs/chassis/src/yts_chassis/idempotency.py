"""Idempotent creates: a client may send ``Idempotency-Key`` with a POST that creates something,
as payment APIs do (Stripe; the IETF draft "The Idempotency-Key HTTP Header Field"), and a
retry with the same key gets the first answer again instead of a second resource.

Three parts work together:

- ``honour_idempotency_key``, a dependency of each create route (``**idempotent_create()``):
  checks the key, answers a key still in progress (409) or used for another request (422),
  replays a kept response, or claims the key for this request;
- ``IdempotentResponses``, an ASGI middleware: keeps the response of a claimed request (2xx or
  4xx) before sending it, and lets a failed one (5xx, an exception) go without keeping it;
- ``IdempotencyKeys``, the store: a commit hook of the service's ``Database`` writes the claimed
  key in the same transaction as the request's first state change, so a create that committed
  always has its key recorded (docs/architecture.md, "Idempotent creates").
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from pydantic import WithJsonSchema
from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yts_chassis.auth import caller_identity
from yts_chassis.database import Database, dialect_insert, wrote
from yts_chassis.errors import FieldError, Problem
from yts_chassis.logs import get_logger

log = get_logger(__name__)

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_FIELD = f"header.{KEY_HEADER}"  # how validation problems name a header
MAX_KEY_LENGTH = 255
# 1 to 255 printable ASCII characters; HTTP strips spaces around a value, so none at the ends.
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
_KEY_HEADER_NAME = KEY_HEADER.lower().encode()  # as ASGI spells it
# The response headers a replay repeats; the others (date, content-length) are the server's.
KEPT_HEADERS = frozenset({"content-type", "content-language", "location", "content-location"})
# A recorded key without its response is "in progress" this long after its commit (the
# response is kept a moment after); after that the service stopped in between and lost it.
IN_PROGRESS_SECONDS = 60.0
RETRY_AFTER_SECONDS = 1
SWEEP_SECONDS = 600.0
_CARRIED = "yts_idempotency_claim"
# The fingerprint of a request whose kept response was erased (never a SHA-256 hex digest).
ERASED = "erased"
_RESPONSE_MESSAGES = frozenset({"http.response.start", "http.response.body"})

KEY_DESCRIPTION = (
    "Send the same key (1 to 255 printable ASCII characters, e.g. a UUID) with every retry of "
    "one create: the first request runs, and a retry gets its response again, byte for byte, "
    f"with `{REPLAYED_HEADER}: true`, without creating anything twice. Responses (2xx and "
    "4xx) are kept for the service's retention period (24 hours by default) per bearer token. "
    "The same key with another request (method, path or body) is a 422; while the first "
    "request is in progress, a 409 with `Retry-After`. A request that failed with a 5xx keeps "
    "nothing: retry it with the same key."
)
KEY_IN_USE = (
    "a request with the same Idempotency-Key is in progress (retry after `Retry-After`), or "
    "was carried out but its response was not kept"
)


@dataclass
class Claim:
    """A request with a new key, from its check until its response is kept or dropped."""

    caller: str
    key: str
    fingerprint: str
    method: str
    path: str
    pending: bool = False  # a commit carrying the key is under way
    recorded: bool = False  # the key committed with the request's state change
    refused: bool = False  # another request recorded the key first: nothing is kept
    closed: bool = False  # the route has answered: no later commit carries the key


@dataclass
class _Slot:
    """Where the dependency leaves the claim for the middleware and the commit hook."""

    claim: Claim | None = None


_current: ContextVar[_Slot | None] = ContextVar("yts_idempotency", default=None)


class Replay(Exception):
    """Raised by the dependency instead of running the route: answered with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: method, path with query, and body. A JSON body counts
    by its content (key order and spacing aside), so a client re-serialising it is not
    refused."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _invalid_key(rule: str, message: str) -> Problem:
    return Problem.invalid(KEY_FIELD, rule, message)


def _in_progress() -> Problem:
    return Problem(
        409,
        "Request in progress",
        f"A request with this {KEY_HEADER} is still in progress; retry after it has answered.",
        kind="idempotency-key-in-progress",
        errors=[FieldError(KEY_FIELD, "in_progress", "a request with this key is in progress")],
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _carried_out(title: str, rest: str, *, kind: str, message: str) -> Problem:
    """A key whose request was carried out and whose response cannot be replayed: a 409, and
    the request is not carried out again."""
    return Problem(
        409,
        title,
        f"The request sent with this {KEY_HEADER} was carried out{rest}",
        kind=kind,
        errors=[FieldError(KEY_FIELD, "response_kept", message)],
    )


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class IdempotencyKeys:
    """Keys sent by callers, their requests' fingerprints and the responses kept for replay, in
    the service's own database (``idempotency_keys``)."""

    def __init__(
        self,
        db: Database,
        table: Table,
        retention: timedelta,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.db = db
        self.table = table
        self.retention = retention
        self.clock = clock
        self._in_flight: set[tuple[str, str]] = set()
        self._next_sweep = 0.0
        db.before_commit(self._carry)
        db.after_commit(self._carried)
        db.after_rollback(self._dropped)

    # -- before the route runs -------------------------------------------------------------

    async def check(self, request: Request, key: str) -> None:
        """Answer a known key (replay, 409, 422) or claim it for this request."""
        slot = _current.get()
        if slot is None:
            raise RuntimeError("IdempotentResponses is not installed on this app")
        if len(request.headers.getlist(KEY_HEADER)) > 1:
            raise _invalid_key("single", f"send one {KEY_HEADER} header")
        if not _KEY.fullmatch(key):
            raise _invalid_key(
                "printable_ascii",
                f"1 to {MAX_KEY_LENGTH} printable ASCII characters, without spaces at the ends",
            )
        caller = await caller_identity(request)
        if caller is None or slot.claim is not None:
            return  # no valid token: the route's own authentication answers
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        claim = Claim(
            caller=caller,
            key=key,
            fingerprint=fingerprint(request.method, path, await request.body()),
            method=request.method,
            path=path,
        )
        ident = (caller, key)
        if ident in self._in_flight:
            raise _in_progress()
        self._in_flight.add(ident)
        try:
            await self._answer_if_known(claim)
        except BaseException:
            self._in_flight.discard(ident)
            raise
        slot.claim = claim

    async def _answer_if_known(self, claim: Claim) -> None:
        table = self.table
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(table).where(
                        table.c.caller == claim.caller,
                        table.c.idempotency_key == claim.key,
                        table.c.expires_at > self.clock(),
                    )
                )
            ).first()
        if row is None:
            return
        if row.fingerprint == ERASED:
            raise _carried_out(
                "Response erased",
                "; its response held personal data that has since been erased, so it is "
                "neither replayed nor carried out again. Send a new key with a new request.",
                kind="idempotency-response-erased",
                message="carried out, response erased",
            )
        if row.fingerprint != claim.fingerprint:
            other = "another body" if row.path == claim.path else f"{row.method} {row.path}"
            raise Problem(
                422,
                "Idempotency key reused",
                f"{KEY_HEADER}: this key was used for another request ({other}); "
                "send a new key with a new request.",
                kind="idempotency-key-reused",
                errors=[FieldError(KEY_FIELD, "same_request", "used for another request")],
            )
        if row.status is None:
            if self.clock() - _as_utc(row.recorded_at) < timedelta(seconds=IN_PROGRESS_SECONDS):
                raise _in_progress()
            raise _carried_out(
                "Response not kept",
                ", but the service stopped before it kept the response, so it is not carried "
                "out again: find what it created with a GET, and send a new key with a new "
                "request.",
                kind="idempotency-response-lost",
                message="carried out, response lost",
            )
        headers = dict(json.loads(row.headers or "[]"))
        headers[REPLAYED_HEADER] = "true"
        raise Replay(Response(content=row.body, status_code=row.status, headers=headers))

    # -- in the request's transactions -------------------------------------------------------

    def _record(self, session: Session | AsyncSession, claim: Claim, **response: Any) -> Any:
        """INSERT the key, or take over an expired row of it; no row when it is held."""
        now = self.clock()
        values: dict[str, Any] = {
            "caller": claim.caller,
            "idempotency_key": claim.key,
            "fingerprint": claim.fingerprint,
            "method": claim.method,
            "path": claim.path,
            "recorded_at": now,
            "expires_at": now + self.retention,
            "status": None,
            "headers": None,
            "body": None,
        }
        statement = dialect_insert(session, self.table).values({**values, **response})
        key = ("caller", "idempotency_key")
        return statement.on_conflict_do_update(
            index_elements=list(key),
            set_={c.name: statement.excluded[c.name] for c in self.table.c if c.name not in key},
            where=self.table.c.expires_at <= now,
        )

    def _carry(self, session: Session) -> None:
        """Before a commit: the request's first transaction that writes records its key."""
        slot = _current.get()
        claim = slot.claim if slot is not None else None
        if claim is None or claim.closed or claim.pending or claim.recorded:
            return
        if not wrote(session):
            return
        recorded = session.execute(self._record(session, claim))
        if getattr(recorded, "rowcount", 1) == 0:
            # Another request with this key (on another replica) committed first: this
            # transaction rolls back, so its state change is not made twice.
            claim.refused = True
            raise _in_progress()
        claim.pending = True
        session.info[_CARRIED] = claim

    def _carried(self, session: Session) -> None:
        claim: Claim | None = session.info.pop(_CARRIED, None)
        if claim is not None:
            claim.pending = False
            claim.recorded = True

    def _dropped(self, session: Session) -> None:
        claim: Claim | None = session.info.pop(_CARRIED, None)
        if claim is not None:
            claim.pending = False

    # -- after the route has answered -------------------------------------------------------

    async def keep(
        self, claim: Claim, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """Keep a 2xx or 4xx response for replay; a 5xx keeps nothing more."""
        claim.closed = True
        if claim.refused or status >= 500:
            return
        kept = [
            [name.decode("latin-1"), value.decode("latin-1")]
            for name, value in headers
            if name.decode("latin-1").lower() in KEPT_HEADERS
        ]
        response = {"status": status, "headers": json.dumps(kept), "body": body}
        table = self.table
        try:
            async with self.db.transaction() as session:
                if claim.recorded:
                    await session.execute(
                        update(table)
                        .where(
                            table.c.caller == claim.caller,
                            table.c.idempotency_key == claim.key,
                        )
                        .values(**response)
                    )
                else:  # nothing was written (a 4xx, say): the key is recorded now
                    await session.execute(self._record(session, claim, **response))
                await self._sweep(session)
        except Exception as exc:
            # Answered all the same; a retry runs again, or gets a 409 if it had committed.
            log.warning("response to an Idempotency-Key not kept", error=repr(exc))

    async def erase_mentions(self, session: AsyncSession, mention: str) -> int:
        """In the caller's transaction, erase the kept responses (and the fingerprints of their
        requests) that mention ``mention``, e.g. a trainer whose personal data is erased: the
        copies must go with the original. A retry with such a key then gets a 409."""
        table = self.table
        needle = mention.encode()
        kept = await session.execute(
            select(table.c.caller, table.c.idempotency_key, table.c.body).where(
                table.c.body.is_not(None)
            )
        )
        mentioning = [(row.caller, row.idempotency_key) for row in kept if needle in row.body]
        for caller, key in mentioning:
            await session.execute(
                update(table)
                .where(table.c.caller == caller, table.c.idempotency_key == key)
                .values(fingerprint=ERASED, headers=None, body=None)
            )
        return len(mentioning)

    def release(self, claim: Claim) -> None:
        claim.closed = True
        self._in_flight.discard((claim.caller, claim.key))

    async def _sweep(self, session: AsyncSession) -> None:
        """Delete expired keys, at most once per ``SWEEP_SECONDS`` per process (an expired key
        sent again takes its row over meanwhile)."""
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        await session.execute(delete(self.table).where(self.table.c.expires_at <= self.clock()))


class IdempotentResponses:
    """Keeps the response of a request that claimed its key before sending it, and lets the
    claim of a failed request go. Requests without the header pass straight through."""

    def __init__(self, app: ASGIApp, keys: IdempotencyKeys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(
            name.lower() == _KEY_HEADER_NAME for name, _ in scope["headers"]
        ):
            await self.app(scope, receive, send)
            return
        slot = _Slot()
        token = _current.set(slot)
        start: Message | None = None
        body = bytearray()

        async def keep_then_send(message: Message) -> None:
            nonlocal start
            claim = slot.claim
            if claim is None or message["type"] not in _RESPONSE_MESSAGES:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            # Kept (and the key let go) before it is sent: once a client has the answer, a retry
            # replays it.
            await self.keys.keep(claim, start["status"], start.get("headers", []), bytes(body))
            self.keys.release(claim)
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body)})

        try:
            await self.app(scope, receive, keep_then_send)
        finally:
            _current.reset(token)
            if slot.claim is not None:
                self.keys.release(slot.claim)


async def honour_idempotency_key(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        # Documented as what a client may send; checked by ``check`` for a clearer problem.
        WithJsonSchema(
            {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN}
        ),
        Header(alias=KEY_HEADER, description=KEY_DESCRIPTION),
    ] = None,
) -> None:
    """The ``Idempotency-Key`` header of a create route (see ``idempotent_create``)."""
    if idempotency_key is not None:
        keys: IdempotencyKeys = request.app.state.idempotency_keys
        await keys.check(request, idempotency_key)


def idempotent_create(responses: Mapping[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The options of a route that creates something and honours ``Idempotency-Key``: the
    header (documented once, here) and its 409, merged with the route's own ``responses``."""
    merged: dict[int | str, dict[str, Any]] = {
        code: dict(spec) for code, spec in (responses or {}).items()
    }
    own = merged.get(409, {}).get("description")
    merged[409] = {"description": f"{own}; or {KEY_IN_USE}" if own else KEY_IN_USE}
    return {"dependencies": [Depends(honour_idempotency_key)], "responses": merged}


async def _replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return exc.response


def install_idempotency(app: FastAPI, keys: IdempotencyKeys) -> None:
    """Honour ``Idempotency-Key`` on the routes that ask for it; the middleware is added
    innermost when this is called before the others."""
    app.state.idempotency_keys = keys
    app.add_exception_handler(Replay, _replay)
    app.add_middleware(IdempotentResponses, keys=keys)
