"""Waking the delivery engine once a transaction that made deliveries commits, and not before:
woken earlier, it would look for rows it cannot see yet; after a rollback there is nothing to
send."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from yts_chassis.database import Database

_WAKE = "yts_notifications_wake"


def install_commit_hooks(db: Database) -> None:
    """Call the wakes a transaction on ``db`` asked for when it commits; forget them when it
    rolls back."""
    db.after_commit(_wake_on_commit)
    db.after_rollback(_forget_on_rollback)


def wake_after_commit(session: AsyncSession, wake: Callable[[], None]) -> None:
    session.info.setdefault(_WAKE, set()).add(wake)


def _wake_on_commit(session: Session) -> None:
    for wake in session.info.pop(_WAKE, ()):
        wake()


def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_WAKE, None)
