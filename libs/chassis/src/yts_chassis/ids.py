"""Identifiers: UUIDv7 (time-ordered) for new events and new entities."""

from __future__ import annotations

import uuid

from uuid6 import uuid7


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid7().bytes)
