"""The chassis' own tables (outbox, inbox, idempotency keys), placed in each service's metadata
so that they live in that service's database and migrations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    inbox: Table
    idempotency: Table


def define_messaging_tables(metadata: MetaData) -> MessagingTables:
    outbox = Table(
        "outbox_events",
        metadata,
        # Publication order. BigInteger on PostgreSQL; SQLite needs INTEGER for its rowid alias.
        Column(
            "seq",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("headers", Text, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("stream_seq", BigInteger, nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        Index("ix_outbox_events_unpublished", "published_at", "seq"),
    )
    inbox = Table(
        "inbox_events",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    # Requests sent with an Idempotency-Key and their responses (see idempotency.py).
    idempotency = Table(
        "idempotency_keys",
        metadata,
        # The caller (SHA-256 of its bearer token) and the key it chose.
        Column("caller", String(64), primary_key=True),
        Column("idempotency_key", String(255), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("method", String(10), nullable=False),
        Column("path", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        # NULL until the response is stored: the request is in progress, or its state change
        # committed and the response was lost.
        Column("status", Integer, nullable=True),
        Column("headers", Text, nullable=True),
        Column("body", LargeBinary, nullable=True),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )
    return MessagingTables(outbox=outbox, inbox=inbox, idempotency=idempotency)
