"""projections by generation: sessions, milestones, module completions

Every read model gets a generation column (a rebuild fills the next generation while the served
one answers); sessions, facilitators, peers by grade, module completions and milestones are
projected too. The rows of the previous release's school_view, cohort_view and trainer_view
become generation 1 (their events are already recorded in the inbox, so they would not come
back), and the downgrade copies the served generation back.

Revision ID: 1a7e7b30eba5
Revises: 67ca12de054f
Create Date: 2026-11-26 17:44:17.789134
"""

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '1a7e7b30eba5'
down_revision: str | None = '67ca12de054f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _zone() -> ZoneInfo:
    # The same setting the service reads (ReportingSettings.programme_timezone).
    return ZoneInfo(os.environ.get("YTS_REPORTING_PROGRAMME_TIMEZONE", "Asia/Almaty"))


def _day(moment: datetime | None):
    return moment.astimezone(_zone()).date() if moment is not None else None


UTC_TIME = sqlmodel.sql.sqltypes.UTCDateTime()

old_schools = sa.table(
    "school_view",
    sa.column("school_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("district", sa.String()),
    sa.column("registered_at", UTC_TIME),
)
old_cohorts = sa.table(
    "cohort_view",
    sa.column("cohort_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("starts_on", sa.Date()),
    sa.column("ends_on", sa.Date()),
)
old_trainers = sa.table(
    "trainer_view",
    sa.column("trainer_id", sa.Uuid()),
    sa.column("school_id", sa.Uuid()),
    sa.column("cohort_id", sa.Uuid()),
    sa.column("grade", sa.Integer()),
    sa.column("gender", sa.String()),
    sa.column("status", sa.String()),
    sa.column("enrolled_at", UTC_TIME),
    sa.column("withdrawn_at", UTC_TIME),
    sa.column("erased", sa.Boolean()),
)
new_schools = sa.table(
    "projected_schools",
    sa.column("generation", sa.Integer()),
    *[sa.column(c.name, c.type) for c in old_schools.columns],
)
new_cohorts = sa.table(
    "projected_cohorts",
    sa.column("generation", sa.Integer()),
    *[sa.column(c.name, c.type) for c in old_cohorts.columns],
)
new_trainers = sa.table(
    "projected_trainers",
    sa.column("generation", sa.Integer()),
    sa.column("trainer_id", sa.Uuid()),
    sa.column("school_id", sa.Uuid()),
    sa.column("cohort_id", sa.Uuid()),
    sa.column("grade", sa.Integer()),
    sa.column("gender", sa.String()),
    sa.column("enrolled_at", UTC_TIME),
    sa.column("enrolled_on", sa.Date()),
    sa.column("withdrawn_at", UTC_TIME),
    sa.column("withdrawn_on", sa.Date()),
    sa.column("erased_at", UTC_TIME),
)
pointer = sa.table(
    "projection_generation",
    sa.column("id", sa.Integer()),
    sa.column("serving", sa.Integer()),
)


def _copy_previous_release() -> None:
    bind = op.get_bind()
    schools = [dict(r._mapping) for r in bind.execute(sa.select(old_schools))]
    if schools:
        bind.execute(new_schools.insert(), [{"generation": 1, **r} for r in schools])
    cohorts = [dict(r._mapping) for r in bind.execute(sa.select(old_cohorts))]
    if cohorts:
        bind.execute(new_cohorts.insert(), [{"generation": 1, **r} for r in cohorts])
    erased_at = datetime.now(UTC)  # the old rows kept a flag only: the moment is lost
    trainers = [
        {
            "generation": 1,
            "trainer_id": r.trainer_id,
            "school_id": r.school_id,
            "cohort_id": r.cohort_id,
            "grade": r.grade,
            "gender": r.gender,
            "enrolled_at": r.enrolled_at,
            "enrolled_on": _day(r.enrolled_at),
            "withdrawn_at": r.withdrawn_at,
            "withdrawn_on": _day(r.withdrawn_at),
            "erased_at": erased_at if r.erased else None,
        }
        for r in bind.execute(sa.select(old_trainers))
    ]
    if trainers:
        bind.execute(new_trainers.insert(), trainers)
    bind.execute(pointer.insert().values(id=1, serving=1))


def _copy_back_served_generation() -> None:
    bind = op.get_bind()
    serving = bind.execute(sa.select(pointer.c.serving).where(pointer.c.id == 1)).scalar()
    serving = serving or 1
    schools = [
        {k: v for k, v in r._mapping.items() if k != "generation"}
        for r in bind.execute(sa.select(new_schools).where(new_schools.c.generation == serving))
    ]
    if schools:
        bind.execute(old_schools.insert(), schools)
    cohorts = [
        {k: v for k, v in r._mapping.items() if k != "generation"}
        for r in bind.execute(sa.select(new_cohorts).where(new_cohorts.c.generation == serving))
    ]
    if cohorts:
        bind.execute(old_cohorts.insert(), cohorts)
    trainers = [
        {
            "trainer_id": r.trainer_id,
            "school_id": r.school_id,
            "cohort_id": r.cohort_id,
            "grade": r.grade,
            "gender": r.gender,
            "status": "withdrawn" if r.withdrawn_at is not None else "active",
            "enrolled_at": r.enrolled_at,
            "withdrawn_at": r.withdrawn_at,
            "erased": r.erased_at is not None,
        }
        for r in bind.execute(
            sa.select(new_trainers).where(
                new_trainers.c.generation == serving, new_trainers.c.enrolled_at.is_not(None)
            )
        )
    ]
    if trainers:
        bind.execute(old_trainers.insert(), trainers)


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('projected_cohorts',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('generation', 'cohort_id')
    )
    op.create_table('projected_milestones',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('milestone_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('subject_type', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('reached_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('reached_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('generation', 'milestone_id')
    )
    op.create_table('projected_module_completions',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('module_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('generation', 'trainer_id', 'module_id')
    )
    op.create_table('projected_schools',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('district', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('registered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('generation', 'school_id')
    )
    op.create_table('projected_session_facilitators',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('generation', 'session_id', 'trainer_id')
    )
    with op.batch_alter_table('projected_session_facilitators', schema=None) as batch_op:
        batch_op.create_index('ix_projected_session_facilitators_trainer', ['generation', 'trainer_id'], unique=False)

    op.create_table('projected_session_peers',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('generation', 'session_id', 'grade')
    )
    op.create_table('projected_sessions',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('topic_module_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
    sa.Column('delivered_on', sa.Date(), nullable=True),
    sa.Column('duration_minutes', sa.Integer(), nullable=True),
    sa.Column('participants', sa.Integer(), nullable=True),
    sa.Column('participants_female', sa.Integer(), nullable=True),
    sa.Column('participants_male', sa.Integer(), nullable=True),
    sa.Column('feedback_responses', sa.Integer(), nullable=True),
    sa.Column('average_rating', sa.Float(), nullable=True),
    sa.Column('cancelled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('cancelled_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('generation', 'session_id')
    )
    with op.batch_alter_table('projected_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_projected_sessions_delivered', ['generation', 'delivered_on'], unique=False)

    op.create_table('projected_trainers',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Uuid(), nullable=True),
    sa.Column('cohort_id', sa.Uuid(), nullable=True),
    sa.Column('grade', sa.Integer(), nullable=True),
    sa.Column('gender', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('enrolled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('enrolled_on', sa.Date(), nullable=True),
    sa.Column('withdrawn_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('withdrawal_reason', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('erased_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('generation', 'trainer_id')
    )
    with op.batch_alter_table('projected_trainers', schema=None) as batch_op:
        batch_op.create_index('ix_projected_trainers_school', ['generation', 'school_id'], unique=False)

    op.create_table('projection_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serving', sa.Integer(), nullable=False),
    sa.Column('building', sa.Integer(), nullable=True),
    sa.Column('building_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('switched_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    _copy_previous_release()
    with op.batch_alter_table('school_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_view_district'))

    op.drop_table('school_view')
    op.drop_table('cohort_view')
    with op.batch_alter_table('trainer_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trainer_view_cohort_id'))
        batch_op.drop_index(batch_op.f('ix_trainer_view_school_id'))
        batch_op.drop_index(batch_op.f('ix_trainer_view_status'))

    op.drop_table('trainer_view')
    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('trainer_view',
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('cohort_id', sa.Uuid(), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('gender', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('enrolled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('withdrawn_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('erased', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('trainer_id')
    )
    with op.batch_alter_table('trainer_view', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trainer_view_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_trainer_view_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trainer_view_cohort_id'), ['cohort_id'], unique=False)

    op.create_table('cohort_view',
    sa.Column('cohort_id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('cohort_id')
    )
    op.create_table('school_view',
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('district', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('registered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('school_id')
    )
    with op.batch_alter_table('school_view', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_view_district'), ['district'], unique=False)

    _copy_back_served_generation()
    op.drop_table('projection_generation')
    with op.batch_alter_table('projected_trainers', schema=None) as batch_op:
        batch_op.drop_index('ix_projected_trainers_school')

    op.drop_table('projected_trainers')
    with op.batch_alter_table('projected_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_projected_sessions_delivered')

    op.drop_table('projected_sessions')
    op.drop_table('projected_session_peers')
    with op.batch_alter_table('projected_session_facilitators', schema=None) as batch_op:
        batch_op.drop_index('ix_projected_session_facilitators_trainer')

    op.drop_table('projected_session_facilitators')
    op.drop_table('projected_schools')
    op.drop_table('projected_module_completions')
    op.drop_table('projected_milestones')
    op.drop_table('projected_cohorts')
    # ### end Alembic commands ###
