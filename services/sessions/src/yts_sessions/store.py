"""The sessions service's tables (its own database)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel
from yts_chassis.tables import define_messaging_tables


class SessionsTable(SQLModel, registry=registry()):
    pass


metadata = SessionsTable.metadata
messaging = define_messaging_tables(metadata)
