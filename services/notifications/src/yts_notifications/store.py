"""The notifications service's tables (its own database)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel
from yts_chassis.tables import define_messaging_tables


class NotificationsTable(SQLModel, registry=registry()):
    pass


metadata = NotificationsTable.metadata
messaging = define_messaging_tables(metadata)
