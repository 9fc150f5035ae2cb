"""What sessions refuses, in the programme's words. The rules (``domain``) and the use cases
raise these; the edge answers each kind as problem+json (``yts_chassis.refusals``): a broken rule
422, a fact already recorded 409, an unknown peer session 404, another school's trainer or
session 403. Each names the field, the rule and what to do, as a person reads it."""

from __future__ import annotations

import uuid

from yts_chassis.refusals import Breach, Conflict, NotFound, RuleBroken


def enforce(breach: Breach | None) -> None:
    """Raise RuleBroken when a rule is broken."""
    if breach is not None:
        raise RuleBroken(breach)


class AlreadyRecorded(Conflict):
    """A fact that is recorded once (a module completed, a session completed or cancelled)."""


class PeerSessionNotKnown(NotFound):
    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__("peer session", session_id)


class SchoolNotRegistered(RuleBroken):
    """Not on the roster (yet): its ``school.registered`` may still be on its way."""

    def __init__(self, school_id: uuid.UUID) -> None:
        super().__init__(
            Breach(
                "school_id",
                "registered",
                f"school {school_id} is not registered as far as this service knows; if it "
                "was just registered, its event may not have arrived yet: try again in a moment",
            )
        )


class TrainerNotEnrolled(RuleBroken):
    """Not on the roster (yet): its ``trainer.enrolled`` may still be on its way. ``field``
    is where the request names the trainer."""

    def __init__(self, field: str, trainer_id: uuid.UUID) -> None:
        super().__init__(
            Breach(
                field,
                "enrolled",
                f"trainer {trainer_id} is not enrolled as far as this service knows; if the "
                "enrolment was just recorded, its event may not have arrived yet: try again "
                "in a moment",
            )
        )


class TrainerNotActive(RuleBroken):
    """A trainer who has withdrawn: no modules are recorded for them, nor sessions run."""

    @classmethod
    def completing_a_module(cls, trainer_id: uuid.UUID) -> TrainerNotActive:
        return cls(
            Breach(
                "trainer_id",
                "active",
                f"trainer {trainer_id} has withdrawn from the programme; "
                "modules are recorded only for active trainers",
            )
        )

    @classmethod
    def facilitating(cls, trainer_id: uuid.UUID) -> TrainerNotActive:
        return cls(
            Breach(
                "facilitator_ids",
                "active",
                f"trainer {trainer_id} has withdrawn from the programme and cannot facilitate",
            )
        )


class CohortDatesUnknown(RuleBroken):
    """The trainer's cohort is not on the roster (yet), so the day in ``field`` cannot be
    checked against its dates."""

    def __init__(self, field: str, trainer_id: uuid.UUID) -> None:
        super().__init__(
            Breach(
                field,
                "within_cohort",
                f"the dates of trainer {trainer_id}'s cohort are not known yet (the cohort's "
                "event may not have arrived): try again in a moment",
            )
        )


class ModuleNotInCurriculum(RuleBroken):
    def __init__(self, field: str, module_id: str) -> None:
        super().__init__(
            Breach(
                field,
                "exists",
                f"no curriculum module {module_id!r}; GET /v1/modules lists them",
            )
        )


class ModuleAlreadyCompleted(AlreadyRecorded):
    def __init__(self, module_id: str) -> None:
        super().__init__(
            Breach(
                "module_id",
                "once_per_trainer",
                f"the trainer has already completed {module_id!r}; a module completes once",
            )
        )


class FacilitatorNamedTwice(RuleBroken):
    def __init__(self) -> None:
        super().__init__(Breach("facilitator_ids", "distinct", "name each facilitator once"))


class FacilitatorOfAnotherSchool(RuleBroken):
    def __init__(self, trainer_id: uuid.UUID) -> None:
        super().__init__(
            Breach(
                "facilitator_ids",
                "same_school",
                f"trainer {trainer_id} is not a trainer of the session's school",
            )
        )


class NotCertified(RuleBroken):
    """Only certified trainers (every core module completed) facilitate peer sessions."""

    def __init__(self, trainer_id: uuid.UUID, core_completed: int, core_total: int) -> None:
        super().__init__(
            Breach(
                "facilitator_ids",
                "certified",
                f"trainer {trainer_id} has completed {core_completed} of {core_total} "
                "core modules; only certified trainers facilitate peer sessions",
            )
        )


class SessionNotPlanned(AlreadyRecorded):
    """A session completes or is cancelled once, from planned."""

    def __init__(self, status: str) -> None:
        super().__init__(
            Breach(
                "status",
                "once",
                f"the session is already {status}; a session completes or is cancelled once",
            )
        )
