"""Each service's in-memory copy of the access bucket, kept current by a KV watch.

A lookup costs no round trip; a change (a token revoked, a session ended) reaches every
service's copy as one NATS message, so it takes effect at once on every machine. Until the
copy has loaded the whole bucket it says so (``loaded``) and callers refuse to decide (503),
never answering from half a view. Only a key the copy does not hold (a token or signing key
made an instant ago) is asked of the bucket directly, once (``look_up``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from joserfc.jwk import OKPKey
from nats.js.client import JetStreamContext
from nats.js.errors import InvalidKeyError, KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from tenacity import AsyncRetrying, retry_if_exception_type

from yts_chassis.access.buckets import (
    ACCESS_BUCKET,
    PERSON_PREFIX,
    SESSION_PREFIX,
    SIGNING_KEY_PREFIX,
    TOKEN_PREFIX,
)
from yts_chassis.access.people import public_key
from yts_chassis.access.records import Revocation, TokenRecord
from yts_chassis.logs import get_logger
from yts_chassis.retrying import Backoff, warn_before_retry

log = get_logger(__name__)

T = TypeVar("T")

STOP_SECONDS = 1.0


class NotConnected(ConnectionError):
    """The service has no NATS connection (yet)."""


class KindCopy(Generic[T]):
    """The bucket's entries of one kind, by key, parsed; a value that does not parse counts
    as absent (refused, never guessed)."""

    def __init__(self, kind: str, parse: Callable[[bytes], T]) -> None:
        self.kind = kind
        self._parse = parse
        self._entries: dict[str, tuple[int, T]] = {}

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        return entry[1] if entry else None

    def values(self) -> list[T]:
        """Every entry held (the workspace's audit names static tokens by their label)."""
        return [value for _, value in self._entries.values()]

    def put(self, key: str, revision: int, value: bytes | None) -> None:
        """Apply a bucket entry (``None``: deleted or expired); an older revision changes
        nothing (a look-up's answer may arrive after the watch's newer one)."""
        known = self._entries.get(key)
        if known is not None and known[0] >= revision:
            return
        if value is None:
            self._entries.pop(key, None)
            return
        try:
            self._entries[key] = (revision, self._parse(value))
        except ValueError as exc:
            self._entries.pop(key, None)
            log.warning("access entry ignored", key=key, error=str(exc))

    def clear(self) -> None:
        self._entries = {}


class AccessView:
    def __init__(self) -> None:
        self.tokens: KindCopy[TokenRecord] = KindCopy("token", TokenRecord.model_validate_json)
        self.signing_keys: KindCopy[OKPKey] = KindCopy("key", public_key)
        self.revocations: KindCopy[Revocation] = KindCopy(
            "revocation", Revocation.model_validate_json
        )
        self._loaded = asyncio.Event()
        self._kv: KeyValue | None = None
        self._task: asyncio.Task[None] | None = None

    def _copy_of(self, key: str) -> KindCopy[Any] | None:
        if key.startswith(TOKEN_PREFIX):
            return self.tokens
        if key.startswith(SIGNING_KEY_PREFIX):
            return self.signing_keys
        if key.startswith((SESSION_PREFIX, PERSON_PREFIX)):
            return self.revocations
        return None

    def apply(self, key: str, revision: int, value: bytes | None) -> None:
        copy = self._copy_of(key)
        if copy is not None:
            copy.put(key, revision, value)

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    @loaded.setter
    def loaded(self, value: bool) -> None:
        if value:
            self._loaded.set()
        else:
            self._loaded.clear()

    async def ready(self) -> bool:
        return self.loaded

    async def until_loaded(self, seconds: float) -> bool:
        """Wait (at most ``seconds``) for the first load: a service just started answers its
        first requests a moment later rather than with a 503."""
        if not self.loaded and seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._loaded.wait(), seconds)
        return self.loaded

    def start(self, jetstream: Callable[[], JetStreamContext | None]) -> None:
        """Follow the bucket through the service's connection (``jetstream()``), retrying
        while NATS is away or the bucket is missing (not provisioned yet)."""
        if self._task is None:
            self._task = asyncio.create_task(self._follow(jetstream), name="follow access")

    async def stop(self) -> None:
        """Stop following, within a bounded time: nats-py's watcher can take tens of seconds to
        let go of its subscription (seen as 38 s test teardowns), and the connection that
        carries it is closed right after anyway."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
            if not done:
                log.warning("access watch still stopping; left to the connection's close")

    async def _follow(self, jetstream: Callable[[], JetStreamContext | None]) -> None:
        following = AsyncRetrying(
            wait=Backoff(0.2, 5.0, jitter=0.2),
            retry=retry_if_exception_type(Exception),
            before_sleep=warn_before_retry(log, "access bucket not followed; retrying"),
        )
        await following(self._watch, jetstream)

    async def _watch(self, jetstream: Callable[[], JetStreamContext | None]) -> None:
        js = jetstream()
        if js is None:
            raise NotConnected("no NATS connection yet")
        kv = await js.key_value(ACCESS_BUCKET)
        self._kv = kv
        # nats-py's watch is an ordered consumer: after a gap or a reconnection it resumes
        # from the last entry it delivered, so the copy misses no change.
        watcher = await kv.watchall()
        first: list[tuple[str, int, bytes | None]] | None = []
        try:
            async for entry in watcher:
                if entry is None:  # the bucket's current entries have all come
                    if first is not None:
                        self._load(first)
                        first = None
                    continue
                deleted = entry.operation in (KV_DEL, KV_PURGE)
                change = (entry.key, entry.revision or 0, None if deleted else entry.value)
                if first is not None:
                    first.append(change)
                else:
                    self.apply(*change)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watcher.stop(), STOP_SECONDS)

    def _load(self, entries: list[tuple[str, int, bytes | None]]) -> None:
        """The whole bucket, as a (new) watch delivered it first."""
        for copy in (self.tokens, self.signing_keys, self.revocations):
            copy.clear()
        for change in entries:
            self.apply(*change)
        self.loaded = True
        log.info("access bucket loaded", entries=len(entries))

    async def look_up(self, copy: KindCopy[T], key: str) -> T | None:
        """Ask the bucket for a key the copy does not hold (one round trip); the answer joins
        the copy unless the watch has brought a newer one meanwhile."""
        if self._kv is None:
            return None
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, InvalidKeyError):
            return None
        except Exception as exc:  # NATS away: decide on what the copy holds
            log.warning("access look-up failed", key=key, error=repr(exc))
            return None
        copy.put(key, entry.revision or 0, entry.value)
        return copy.get(key)
