"""Erased personal data leaves the disk, not only the tables. SQLite keeps a row's old bytes in
two places after an UPDATE: in the page's free space, and in the write-ahead log (the -wal file)
until a checkpoint copies the new pages back and the log is reset. PostgreSQL needs nothing
here: its old row versions are vacuumed, and its WAL is the operator's backup."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from yts_chassis.database import Database
from yts_chassis.logs import get_logger

log = get_logger(__name__)


def zero_freed_space(db: Database) -> None:
    """On SQLite, every connection zeroes what a write frees (``secure_delete``), so an erased
    name does not stay behind in its page's free space."""
    if db.is_sqlite:
        event.listen(db.engine.sync_engine, "connect", _secure_delete)


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


async def checkpoint_after_erasure(db: Database) -> None:
    """On SQLite, copy the committed erasure into the database file and empty the write-ahead
    log, where the erased rows' earlier pages would otherwise stay until the next automatic
    checkpoint. Best-effort: the erasure has committed either way; a failure is logged and the
    next checkpoint finishes the job."""
    if not db.is_sqlite:
        return
    try:
        async with db.engine.connect() as connection:
            result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            # One row: busy (1 when a reader or writer kept it from finishing), frames in the
            # log, frames copied back.
            busy, log_frames, checkpointed = tuple(result.one())
    except Exception as exc:
        log.warning("WAL checkpoint after an erasure failed", error=repr(exc))
        return
    if busy:
        log.warning(
            "WAL checkpoint after an erasure could not finish; the next one will",
            log_frames=log_frames,
            checkpointed=checkpointed,
        )
