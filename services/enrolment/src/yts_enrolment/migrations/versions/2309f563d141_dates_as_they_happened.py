"""dates as they happened: trainers' enrolled_on and withdrawn_on

An enrolment and a withdrawal carry the day they took effect, so a record kept on paper can be
entered later. Rows already stored took effect when they were recorded: enrolled_on (and
withdrawn_on) become the day of enrolled_at (withdrawn_at) in the programme's time zone,
Asia/Almaty, as the service reads "today" (domain.PROGRAMME_TIMEZONE).

Revision ID: 2309f563d141
Revises: 1289217b43ba
Create Date: 2026-12-01 16:30:00.000000
"""

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '2309f563d141'
down_revision: str | None = '1289217b43ba'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must give the same days whenever it runs.
ZONE = ZoneInfo("Asia/Almaty")
UTC_TIME = sqlmodel.sql.sqltypes.UTCDateTime()

trainers = sa.table(
    "trainers",
    sa.column("id", sa.Uuid()),
    sa.column("enrolled_at", UTC_TIME),
    sa.column("enrolled_on", sa.Date()),
    sa.column("withdrawn_at", UTC_TIME),
    sa.column("withdrawn_on", sa.Date()),
)


def _day(moment: datetime | None):
    return moment.astimezone(ZONE).date() if moment is not None else None


def upgrade() -> None:
    with op.batch_alter_table('trainers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrolled_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_on', sa.Date(), nullable=True))

    bind = op.get_bind()
    rows = bind.execute(
        sa.select(trainers.c.id, trainers.c.enrolled_at, trainers.c.withdrawn_at)
    ).all()
    for row in rows:
        bind.execute(
            trainers.update()
            .where(trainers.c.id == row.id)
            .values(enrolled_on=_day(row.enrolled_at), withdrawn_on=_day(row.withdrawn_at))
        )

    with op.batch_alter_table('trainers', schema=None) as batch_op:
        batch_op.alter_column('enrolled_on', existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('trainers', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_on')
        batch_op.drop_column('enrolled_on')
