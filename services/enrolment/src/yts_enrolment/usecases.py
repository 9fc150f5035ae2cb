"""Enrolment's use cases: each writes its state and its events in one transaction (outbox), or
refuses with one of ``errors`` and writes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.auth import Principal
from yts_chassis.database import Database
from yts_chassis.idempotency import IdempotencyKeys
from yts_chassis.ids import new_id
from yts_chassis.outbox import Outbox
from yts_chassis.refusals import NotYourSchool
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
)
from yts_contracts.private import SchoolContact

from yts_enrolment import disk_erasure, domain
from yts_enrolment.errors import (
    AlreadyEnrolled,
    CohortAlreadyOpen,
    CohortClosed,
    CohortNameNotItsYears,
    CohortNotOpened,
    ConsentInFuture,
    ConsentOutOfReach,
    EnrolledInFuture,
    EnrolledOutsideCohort,
    NothingToCorrect,
    SchoolNameTaken,
    SchoolNotKnown,
    SchoolNotRegistered,
    SchoolNotTakingPart,
    TrainerNotActive,
    TrainerNotKnown,
    WithdrawnAfterCohort,
    WithdrawnBeforeEnrolment,
    WithdrawnInFuture,
)
from yts_enrolment.schemas import (
    CohortIn,
    Coordinator,
    NamesCorrectionIn,
    SchoolIn,
    TrainerIn,
    WithdrawalIn,
)
from yts_enrolment.store import Cohort, School, Trainer, TrainerCredential


@dataclass(frozen=True)
class Deps:
    db: Database
    outbox: Outbox
    idempotency: IdempotencyKeys
    timezone: ZoneInfo = domain.PROGRAMME_TIMEZONE  # the programme's calendar

    def today(self) -> date:
        """Today in the programme's time zone, not UTC's."""
        return domain.programme_day(_now(), self.timezone)


def _now() -> datetime:
    return datetime.now(UTC)


async def register_school(deps: Deps, cmd: SchoolIn) -> School:
    school = School(
        id=new_id(),
        name=cmd.name,
        district=cmd.district.value,
        languages=list(cmd.languages),
        active=True,
        coordinator_name=cmd.coordinator.name,
        coordinator_email=str(cmd.coordinator.email),
        coordinator_locale=cmd.coordinator.locale.value,
        registered_at=_now(),
    )
    async with deps.db.transaction() as session:
        taken = await session.execute(
            select(func.count())
            .select_from(School)
            .where(func.lower(col(School.name)) == cmd.name.lower())
        )
        if taken.scalar_one():
            raise SchoolNameTaken(cmd.name)
        session.add(school)
        await deps.outbox.add(
            session,
            SchoolRegistered(
                school_id=school.id,
                name=school.name,
                district=school.district,
                languages=school.languages,
                registered_at=school.registered_at,
            ),
        )
        await deps.outbox.add(session, _contact_of(school))
    return school


def _contact_of(school: School) -> SchoolContact:
    """The private event that tells the notification service where the school's mail goes."""
    return SchoolContact(
        school_id=school.id,
        coordinator_name=school.coordinator_name,
        email=school.coordinator_email,
        locale=school.coordinator_locale,
    )


async def change_coordinator(deps: Deps, school_id: uuid.UUID, cmd: Coordinator) -> School:
    """The school's coordinator contact replaced; the notification service's replica follows
    from the private event, so the next mail goes to the new address. The same contact again
    changes nothing and publishes nothing."""
    async with deps.db.transaction() as session:
        school = await session.get(School, school_id, with_for_update=True)
        if school is None:
            raise SchoolNotKnown(school_id)
        contact = (cmd.name, str(cmd.email), cmd.locale.value)
        if contact == (
            school.coordinator_name,
            school.coordinator_email,
            school.coordinator_locale,
        ):
            return school
        school.coordinator_name, school.coordinator_email, school.coordinator_locale = contact
        await deps.outbox.add(session, _contact_of(school))
    return school


async def open_cohort(deps: Deps, cmd: CohortIn) -> Cohort:
    if not domain.cohort_name_matches_dates(cmd.name, cmd.starts_on, cmd.ends_on):
        raise CohortNameNotItsYears(cmd.name)
    cohort = Cohort(
        id=new_id(),
        name=cmd.name,
        starts_on=cmd.starts_on,
        ends_on=cmd.ends_on,
        open_for_enrolment=True,
        opened_at=_now(),
    )
    async with deps.db.transaction() as session:
        taken = await session.execute(select(col(Cohort.id)).where(col(Cohort.name) == cmd.name))
        if taken.first():
            raise CohortAlreadyOpen(cmd.name)
        session.add(cohort)
        await deps.outbox.add(
            session,
            CohortOpened(
                cohort_id=cohort.id,
                name=cohort.name,
                starts_on=cohort.starts_on,
                ends_on=cohort.ends_on,
            ),
        )
    return cohort


async def enrol_trainer(deps: Deps, cmd: TrainerIn, today: date | None = None) -> Trainer:
    today = today or deps.today()
    enrolled_on = cmd.enrolled_on or today
    if cmd.guardian_consent.given_on > today:
        raise ConsentInFuture()
    key = domain.person_key(cmd.school_id, cmd.first_name, cmd.last_name, cmd.grade)
    async with deps.db.transaction() as session:
        school = await session.get(School, cmd.school_id)
        if school is None:
            raise SchoolNotRegistered(cmd.school_id)
        if not school.active:
            raise SchoolNotTakingPart(school.id)
        cohort = await session.get(Cohort, cmd.cohort_id)
        if cohort is None:
            raise CohortNotOpened(cmd.cohort_id)
        match domain.enrolled_on_breach(enrolled_on, today, cohort.starts_on, cohort.ends_on):
            case domain.DateRule.not_in_future:
                raise EnrolledInFuture(enrolled_on, today)
            case domain.DateRule.within_cohort:
                raise EnrolledOutsideCohort(cohort.name, cohort.starts_on, cohort.ends_on)
        if not domain.cohort_accepts_enrolment(
            cohort.open_for_enrolment, cohort.ends_on, enrolled_on
        ):
            raise CohortClosed(cohort.name)
        earliest_consent = domain.earliest_consent_for(cohort.starts_on)
        if cmd.guardian_consent.given_on < earliest_consent:
            raise ConsentOutOfReach(cohort.name, earliest_consent)
        duplicate = await session.execute(
            select(col(Trainer.id)).where(
                col(Trainer.cohort_id) == cmd.cohort_id,
                col(Trainer.person_key) == key,
                col(Trainer.status) == domain.TrainerStatus.active.value,
            )
        )
        if duplicate.first():
            raise AlreadyEnrolled(cohort.name)
        trainer = Trainer(
            id=new_id(),
            school_id=cmd.school_id,
            cohort_id=cmd.cohort_id,
            grade=cmd.grade,
            gender=cmd.gender.value,
            languages=list(cmd.languages),
            status=domain.TrainerStatus.active.value,
            enrolled_at=_now(),
            enrolled_on=enrolled_on,
            first_name=cmd.first_name,
            last_name=cmd.last_name,
            guardian_name=cmd.guardian_consent.guardian_name,
            guardian_consent_on=cmd.guardian_consent.given_on,
            notes=cmd.notes,
            person_key=key,
        )
        session.add(trainer)
        try:
            await session.flush()
        except IntegrityError as exc:  # a concurrent request enrolled the same person
            raise AlreadyEnrolled(cohort.name) from exc
        await deps.outbox.add(
            session,
            TrainerEnrolled(
                trainer_id=trainer.id,
                school_id=trainer.school_id,
                cohort_id=trainer.cohort_id,
                grade=trainer.grade,
                gender=trainer.gender,
                languages=trainer.languages,
                enrolled_at=trainer.enrolled_at,
                enrolled_on=trainer.enrolled_on,
            ),
        )
    return trainer


async def _trainer_for(
    session: AsyncSession, trainer_id: uuid.UUID, principal: Principal
) -> Trainer:
    trainer = await session.get(Trainer, trainer_id, with_for_update=True)
    if trainer is None:
        raise TrainerNotKnown(trainer_id)
    if not principal.may_act_for_school(trainer.school_id):
        raise NotYourSchool(trainer.school_id)
    return trainer


async def withdraw_trainer(
    deps: Deps,
    trainer_id: uuid.UUID,
    cmd: WithdrawalIn,
    principal: Principal,
    today: date | None = None,
) -> Trainer:
    today = today or deps.today()
    withdrawn_on = cmd.withdrawn_on or today
    async with deps.db.transaction() as session:
        trainer = await _trainer_for(session, trainer_id, principal)
        if trainer.status != domain.TrainerStatus.active.value:
            raise TrainerNotActive(trainer.status)
        cohort = await session.get(Cohort, trainer.cohort_id)
        assert cohort is not None  # a trainer's cohort is a foreign key
        match domain.withdrawn_on_breach(withdrawn_on, today, trainer.enrolled_on, cohort.ends_on):
            case domain.DateRule.not_in_future:
                raise WithdrawnInFuture(withdrawn_on, today)
            case domain.DateRule.not_before_enrolled_on:
                raise WithdrawnBeforeEnrolment(trainer.enrolled_on)
            case domain.DateRule.within_cohort:
                raise WithdrawnAfterCohort(cohort.name, cohort.ends_on)
        trainer.status = domain.TrainerStatus.withdrawn.value
        trainer.withdrawn_at = _now()
        trainer.withdrawn_on = withdrawn_on
        trainer.withdrawal_reason = cmd.reason.value
        await deps.outbox.add(
            session,
            TrainerWithdrawn(
                trainer_id=trainer.id,
                school_id=trainer.school_id,
                reason=cmd.reason,
                withdrawn_at=trainer.withdrawn_at,
                withdrawn_on=trainer.withdrawn_on,
            ),
        )
    return trainer


async def correct_names(
    deps: Deps, trainer_id: uuid.UUID, cmd: NamesCorrectionIn, principal: Principal
) -> Trainer:
    """A mistyped first or last name corrected. Names never leave enrolment, so no event: the
    other services know the trainer by id only. The corrected person must not be enrolled
    twice in the cohort (the same rule as enrolling)."""
    if cmd.first_name is None and cmd.last_name is None:
        raise NothingToCorrect()
    async with deps.db.transaction() as session:
        trainer = await _trainer_for(session, trainer_id, principal)
        if trainer.erased_at is not None:
            raise TrainerNotKnown(trainer_id)
        trainer.first_name = cmd.first_name or trainer.first_name
        trainer.last_name = cmd.last_name or trainer.last_name
        assert trainer.first_name is not None
        assert trainer.last_name is not None
        key = domain.person_key(
            trainer.school_id, trainer.first_name, trainer.last_name, trainer.grade
        )
        cohort = await session.get(Cohort, trainer.cohort_id)
        assert cohort is not None  # a trainer's cohort is a foreign key
        if trainer.status == domain.TrainerStatus.active.value and key != trainer.person_key:
            duplicate = await session.execute(
                select(col(Trainer.id)).where(
                    col(Trainer.cohort_id) == trainer.cohort_id,
                    col(Trainer.person_key) == key,
                    col(Trainer.status) == domain.TrainerStatus.active.value,
                    col(Trainer.id) != trainer.id,
                )
            )
            if duplicate.first():
                raise AlreadyEnrolled(cohort.name)
        trainer.person_key = key
        try:
            await session.flush()
        except IntegrityError as exc:  # a concurrent enrolment of the same person
            raise AlreadyEnrolled(cohort.name) from exc
    return trainer


async def erase_personal_data(deps: Deps, trainer_id: uuid.UUID, principal: Principal) -> Trainer:
    """Remove names, consent details and free text; keep an anonymous tombstone (id, school,
    cohort, grade, gender, languages, status) so that counts stay right. Erasing twice is
    harmless: the second time nothing is left to remove and nothing is published."""
    async with deps.db.transaction() as session:
        trainer = await _trainer_for(session, trainer_id, principal)
        if trainer.erased_at is not None:
            return trainer
        trainer.first_name = None
        trainer.last_name = None
        trainer.guardian_name = None
        trainer.guardian_consent_on = None
        trainer.notes = None
        trainer.person_key = None
        trainer.erased_at = _now()
        # Their credentials' references go too (the credentials service revokes them).
        await session.execute(
            delete(TrainerCredential).where(col(TrainerCredential.trainer_id) == trainer.id)
        )
        # The response to their enrolment, kept for Idempotency-Key retries, held them too.
        await deps.idempotency.erase_mentions(session, str(trainer.id))
        await deps.outbox.add(
            session, TrainerErased(trainer_id=trainer.id, erased_at=trainer.erased_at)
        )
    await disk_erasure.checkpoint_after_erasure(deps.db)
    return trainer
