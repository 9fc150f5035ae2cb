"""Async database access over SQLModel/SQLAlchemy: PostgreSQL (asyncpg) in production, SQLite
(aiosqlite) as the embedded default. Every service has its own database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session

WROTE = "yts_wrote"


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        # A Session class of this database's own, so that its commit hook sees only its commits.
        sync_session_class = type("ServiceSession", (Session,), {})
        self._sessions = async_sessionmaker(
            self.engine,
            class_=AsyncSession,
            sync_session_class=sync_session_class,
            expire_on_commit=False,
        )
        self._session_class = sync_session_class
        # SQLite has one writer: transactions of this process take turns here instead of
        # meeting in SQLite's busy handler, which sleeps up to 100 ms between its tries.
        self._turn = asyncio.Lock() if self.is_sqlite else None
        self._holding: ContextVar[bool] = ContextVar(f"yts_db_turn_{id(self)}", default=False)
        # What a transaction wrote, for commit hooks that join only a state change (``wrote``).
        event.listen(sync_session_class, "after_flush", _note_flush)
        event.listen(sync_session_class, "do_orm_execute", _note_statement)
        self.after_commit(_forget_writes)
        self.after_rollback(_forget_writes)

    def before_commit(self, listener: Callable[[Session], None]) -> None:
        """Call ``listener`` with each session of this database just before it commits, still
        inside the transaction: what it writes commits with the rest."""
        event.listen(self._session_class, "before_commit", listener)

    def after_commit(self, listener: Callable[[Session], None]) -> None:
        """Call ``listener`` with each session of this database once it has committed."""
        event.listen(self._session_class, "after_commit", listener)

    def after_rollback(self, listener: Callable[[Session], None]) -> None:
        """Call ``listener`` with each session of this database whose transaction rolled back."""
        event.listen(
            self._session_class,
            "after_soft_rollback",
            lambda session, _previous_transaction: listener(session),
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; callers open the transaction with ``async with session.begin()``."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error. On
        SQLite the transactions of this process run one at a time (see ``_turn``)."""
        async with self._writers_turn(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _writers_turn(self) -> AsyncIterator[None]:
        if self._turn is None or self._holding.get():
            yield  # PostgreSQL, or a transaction opened inside one that has the turn
            return
        async with self._turn:
            token = self._holding.set(True)
            try:
                yield
            finally:
                self._holding.reset(token)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only session whose every query sees the same committed state; the rows it
        returns stay readable after it ends.

        Without it each SELECT sees whatever was committed when it ran: PostgreSQL's default
        READ COMMITTED takes a snapshot per statement, and Python's sqlite3 opens no
        transaction before a SELECT. A page built from several queries (the indicators, say)
        could then count a trainer in one figure and miss them in the next."""
        async with self._sessions() as session:
            if self.is_sqlite:
                # A deferred transaction: in WAL mode its first read fixes the snapshot.
                connection = await session.connection()
                await connection.exec_driver_sql("BEGIN")
            else:
                await session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            try:
                yield session
            finally:
                # Nothing was written; what was read stays readable after the rollback.
                session.expunge_all()
                await session.rollback()

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def wrote(session: Session) -> bool:
    """Whether the session's open transaction has written: flushed objects, executed an
    INSERT, UPDATE or DELETE, or holds objects its commit will flush."""
    return bool(session.info.get(WROTE) or session.new or session.deleted or session.dirty)


def _note_flush(session: Session, _flush_context: Any) -> None:
    session.info[WROTE] = True


def _note_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE] = True


def _forget_writes(session: Session) -> None:
    session.info.pop(WROTE, None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def is_transient(exc: BaseException) -> bool:
    """Faults worth retrying as they are: the database or the network is away for a while."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, ConnectionError | TimeoutError | OSError)


def dialect_insert(session: Any, table: Any) -> Any:
    """An INSERT for the session's database (PostgreSQL or SQLite), with its ON CONFLICT."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    target = getattr(table, "__table__", table)
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(target)


def upsert_statement(session: Any, table: Any, key: Sequence[str], columns: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE ``columns`` to the values offered, or DO NOTHING
    when there are none; executed with one row's values or with many."""
    statement = dialect_insert(session, table)
    if not columns:
        return statement.on_conflict_do_nothing(index_elements=list(key))
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={c: statement.excluded[c] for c in columns}
    )


async def upsert(
    session: Any,
    table: Any,
    values: dict[str, Any],
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE on PostgreSQL and SQLite alike; ``update=[]``
    means DO NOTHING."""
    columns = [c for c in (update if update is not None else values) if c not in key]
    await session.execute(upsert_statement(session, table, key, columns), values)
