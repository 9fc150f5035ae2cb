"""webhook subscriptions disabled by a 410 Gone

Revision ID: 57c4224c2c53
Revises: 289317f16358
Create Date: 2026-12-01 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '57c4224c2c53'
down_revision: str | None = '289317f16358'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('disabled_reason', sa.Text(), nullable=True))
    # Webhooks now get 14 attempts (the default schedule over about three and a half days),
    # not 8: the deliveries still under way get the rest of their round.
    op.execute(
        "UPDATE deliveries SET attempt_limit = attempt_limit + 6 "
        "WHERE channel = 'webhook' AND status IN ('pending', 'sending')"
    )


def downgrade() -> None:
    # Deliveries held for a disabled endpoint are due again: without the columns nothing would
    # say why they wait.
    op.execute(
        "UPDATE deliveries SET status = 'pending', "
        "last_result = 'resumed: the schema was downgraded' WHERE status = 'held'"
    )
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('disabled_reason')
        batch_op.drop_column('disabled_at')
