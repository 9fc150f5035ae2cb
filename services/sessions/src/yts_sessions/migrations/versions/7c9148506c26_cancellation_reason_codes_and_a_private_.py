"""cancellation reason codes and a private note

A cancellation's reason was a sentence, published to partners; it is now a code, and the
coordinator's own words go to a note that stays in this database. Sentences already stored move
to the note and their reason becomes ``other``, as consumers read the old events.

Revision ID: 7c9148506c26
Revises: 638487111929
Create Date: 2026-12-01 14:54:00.775444
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '7c9148506c26'
down_revision: str | None = '638487111929'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The codes as this revision knows them (a migration never imports code that may change).
REASON_CODES = (
    'facilitator_unavailable',
    'school_closure',
    'schedule_conflict',
    'low_attendance',
    'weather',
    'other',
)
peer_sessions = sa.table(
    'peer_sessions',
    sa.column('cancellation_reason', sa.String),
    sa.column('cancellation_note', sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table('peer_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancellation_note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))

    op.execute(
        peer_sessions.update()
        .where(
            peer_sessions.c.cancellation_reason.is_not(None),
            peer_sessions.c.cancellation_reason.not_in(REASON_CODES),
        )
        .values(
            cancellation_note=peer_sessions.c.cancellation_reason,
            cancellation_reason='other',
        )
    )

    with op.batch_alter_table('peer_sessions', schema=None) as batch_op:
        batch_op.alter_column('cancellation_reason',
               existing_type=sa.VARCHAR(length=500),
               type_=sqlmodel.sql.sqltypes.AutoString(length=40),
               existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('peer_sessions', schema=None) as batch_op:
        batch_op.alter_column('cancellation_reason',
               existing_type=sqlmodel.sql.sqltypes.AutoString(length=40),
               type_=sa.VARCHAR(length=500),
               existing_nullable=True)

    # The previous release had one column, read by people: the note says more than the code.
    op.execute(
        peer_sessions.update()
        .where(peer_sessions.c.cancellation_note.is_not(None))
        .values(cancellation_reason=peer_sessions.c.cancellation_note)
    )

    with op.batch_alter_table('peer_sessions', schema=None) as batch_op:
        batch_op.drop_column('cancellation_note')
