"""Enrolment's HTTP routes: parse, authorise, call a use case. What the use cases refuse is
answered as problem+json by ``yts_chassis.refusals``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from yts_chassis.auth import Principal, Role, ensure_school_access, require_roles, school_scope
from yts_chassis.errors import Problem
from yts_chassis.idempotency import idempotent_create
from yts_chassis.paging import Limit, Offset, Page

from yts_enrolment import certificates, queries, usecases
from yts_enrolment.domain import District, Locale, TrainerStatus
from yts_enrolment.errors import CredentialNotKnown, CredentialRevoked
from yts_enrolment.schemas import (
    CertificateOut,
    CohortIn,
    CohortOut,
    Coordinator,
    CoordinatorOut,
    NamesCorrectionIn,
    SchoolIn,
    SchoolOut,
    TrainerIn,
    TrainerOut,
    WithdrawalIn,
)
from yts_enrolment.store import Cohort, School, Trainer, TrainerCredential

Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
Staff = Annotated[Principal, Depends(require_roles(Role.admin, Role.coordinator))]

PROBLEMS = {
    401: {"description": "no or unknown bearer token"},
    403: {"description": "the token's role or school does not allow this"},
    422: {"description": "bad input: the problem names the field and the rule"},
}


def school_out(school: School) -> SchoolOut:
    return SchoolOut.model_validate(school, from_attributes=True)


def coordinator_out(school: School) -> CoordinatorOut:
    return CoordinatorOut(
        name=school.coordinator_name,
        email=school.coordinator_email,
        locale=Locale(school.coordinator_locale),
    )


def cohort_out(cohort: Cohort) -> CohortOut:
    return CohortOut.model_validate(cohort, from_attributes=True)


def trainer_out(trainer: Trainer) -> TrainerOut:
    out = TrainerOut.model_validate(trainer, from_attributes=True)
    return out.model_copy(update={"erased": trainer.erased_at is not None})


def certificate_out(credential: TrainerCredential) -> CertificateOut:
    out = CertificateOut.model_validate(credential, from_attributes=True)
    pdf = f"/v1/trainers/{credential.trainer_id}/certificates/{credential.credential_id}.pdf"
    return out.model_copy(update={"certificate_url": pdf})


def build_router(deps: usecases.Deps) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=PROBLEMS)  # type: ignore[arg-type]

    @router.post(
        "/schools",
        status_code=status.HTTP_201_CREATED,
        tags=["schools"],
        summary="Register a school and its coordinator",
        **idempotent_create(),
    )
    async def register_school(body: SchoolIn, _: Admin) -> SchoolOut:
        return school_out(await usecases.register_school(deps, body))

    @router.get("/schools", tags=["schools"], summary="List schools")
    async def list_schools(
        _: Staff,
        district: District | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[SchoolOut]:
        found = await queries.schools(deps.db, district=district, limit=limit, offset=offset)
        return Page[SchoolOut](
            items=[school_out(s) for s in found.items],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    @router.get("/schools/{school_id}", tags=["schools"], summary="One school")
    async def get_school(school_id: uuid.UUID, _: Staff) -> SchoolOut:
        return school_out(await _school_known(school_id))

    async def _school_known(school_id: uuid.UUID) -> School:
        school = await queries.school(deps.db, school_id)
        if school is None:
            raise Problem.not_found("school", school_id)
        return school

    @router.get(
        "/schools/{school_id}/coordinator",
        tags=["schools"],
        summary="The coordinator the school's mail goes to (staff, or the school's coordinator)",
        responses={404: {"description": "no such school"}},
    )
    async def get_coordinator(school_id: uuid.UUID, principal: Staff) -> CoordinatorOut:
        # A coordinator asking about another school is refused before it learns if it exists.
        ensure_school_access(principal, school_id)
        return coordinator_out(await _school_known(school_id))

    @router.put(
        "/schools/{school_id}/coordinator",
        tags=["schools"],
        summary="Replace the coordinator the school's mail goes to (staff)",
        description="Checked as at registration (the name and address the mail library can "
        "write). The contact is published on the internal stream only "
        "(`yts.private.enrolment.school.contact.v1`), in the same transaction; the next mail "
        "to the school goes to it. The same contact again publishes nothing.",
        **idempotent_create({404: {"description": "no such school"}}),
    )
    async def change_coordinator(
        school_id: uuid.UUID, body: Coordinator, _: Admin
    ) -> CoordinatorOut:
        return coordinator_out(await usecases.change_coordinator(deps, school_id, body))

    @router.post(
        "/cohorts",
        status_code=status.HTTP_201_CREATED,
        tags=["cohorts"],
        summary="Open a cohort (a programme year) for enrolment",
        **idempotent_create(),
    )
    async def open_cohort(body: CohortIn, _: Admin) -> CohortOut:
        return cohort_out(await usecases.open_cohort(deps, body))

    @router.get("/cohorts", tags=["cohorts"], summary="List cohorts")
    async def list_cohorts(_: Staff) -> list[CohortOut]:
        return [cohort_out(c) for c in await queries.cohorts(deps.db)]

    @router.post(
        "/trainers",
        status_code=status.HTTP_201_CREATED,
        tags=["trainers"],
        summary="Enrol a young trainer (guardian consent required)",
        **idempotent_create(),
    )
    async def enrol_trainer(body: TrainerIn, principal: Staff) -> TrainerOut:
        ensure_school_access(principal, body.school_id)
        return trainer_out(await usecases.enrol_trainer(deps, body))

    @router.get("/trainers", tags=["trainers"], summary="List trainers")
    async def list_trainers(
        principal: Staff,
        school_id: uuid.UUID | None = None,
        cohort_id: uuid.UUID | None = None,
        status_: Annotated[TrainerStatus | None, Query(alias="status")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[TrainerOut]:
        """Coordinators see their own school's trainers only."""
        school_id = school_scope(principal, school_id)
        found = await queries.trainers(
            deps.db,
            school_id=school_id,
            cohort_id=cohort_id,
            status=status_,
            limit=limit,
            offset=offset,
        )
        return Page[TrainerOut](
            items=[trainer_out(t) for t in found.items],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    @router.get("/trainers/{trainer_id}", tags=["trainers"], summary="One trainer")
    async def get_trainer(trainer_id: uuid.UUID, principal: Staff) -> TrainerOut:
        trainer = await queries.trainer(deps.db, trainer_id)
        if trainer is None:
            raise Problem.not_found("trainer", trainer_id)
        ensure_school_access(principal, trainer.school_id)
        return trainer_out(trainer)

    @router.get(
        "/trainers/{trainer_id}/certificates",
        tags=["certificates"],
        summary="The trainer's credentials, each with its printable certificate",
    )
    async def list_certificates(trainer_id: uuid.UUID, principal: Staff) -> list[CertificateOut]:
        trainer = await _trainer_seen_by(trainer_id, principal)
        found = await queries.trainer_credentials(deps.db, trainer.id)
        return [certificate_out(credential) for credential in found]

    @router.get(
        "/trainers/{trainer_id}/certificates/{credential_id}.pdf",
        tags=["certificates"],
        summary="A printable certificate (A4 PDF) with the trainer's name and a QR code",
        response_class=Response,
        responses={
            200: {"content": {"application/pdf": {}}},
            409: {"description": "the credential was revoked"},
        },
    )
    async def certificate(
        trainer_id: uuid.UUID,
        credential_id: uuid.UUID,
        principal: Staff,
        lang: Annotated[
            str | None, Query(pattern="^(kk|ru|en)$", description="kk, ru or en")
        ] = None,
    ) -> Response:
        """In the language asked for, else the trainer's first language, else Kazakh."""
        trainer = await _trainer_seen_by(trainer_id, principal)
        credential = await queries.trainer_credential(deps.db, trainer.id, credential_id)
        if credential is None:
            raise CredentialNotKnown(credential_id)
        if credential.revoked_at is not None:
            raise CredentialRevoked(credential_id)
        pdf = certificates.render(
            certificates.Certificate(
                trainer_name=f"{trainer.first_name} {trainer.last_name}",
                achievement=credential.achievement,
                issued_on=credential.issued_on,
                verification_url=credential.verification_url,
                credential_id=str(credential.credential_id),
                lang=certificates.language_for(lang, trainer.languages),
            )
        )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="certificate-{credential_id}.pdf"',
                # A minor's name: never kept by a shared cache.
                "Cache-Control": "no-store",
            },
        )

    async def _trainer_seen_by(trainer_id: uuid.UUID, principal: Principal) -> Trainer:
        trainer = await queries.trainer(deps.db, trainer_id)
        if trainer is None or trainer.erased_at is not None:
            raise Problem.not_found("trainer", trainer_id)
        ensure_school_access(principal, trainer.school_id)
        return trainer

    @router.post(
        "/trainers/{trainer_id}/withdrawal",
        tags=["trainers"],
        summary="Withdraw an active trainer from the programme",
        responses={409: {"description": "the trainer is not active"}},
    )
    async def withdraw_trainer(
        trainer_id: uuid.UUID, body: WithdrawalIn, principal: Staff
    ) -> TrainerOut:
        return trainer_out(await usecases.withdraw_trainer(deps, trainer_id, body, principal))

    @router.patch(
        "/trainers/{trainer_id}",
        tags=["trainers"],
        summary="Correct a mistyped first or last name (coordinator of the school, or staff)",
        description="Names never leave enrolment, so no event is published. The grade is not "
        "corrected here.",
        responses={409: {"description": "the corrected person is already enrolled in the cohort"}},
    )
    async def correct_names(
        trainer_id: uuid.UUID, body: NamesCorrectionIn, principal: Staff
    ) -> TrainerOut:
        return trainer_out(await usecases.correct_names(deps, trainer_id, body, principal))

    @router.delete(
        "/trainers/{trainer_id}/personal-data",
        tags=["trainers"],
        summary="Erase a trainer's personal data (keeps an anonymous tombstone)",
    )
    async def erase_personal_data(trainer_id: uuid.UUID, principal: Staff) -> TrainerOut:
        return trainer_out(await usecases.erase_personal_data(deps, trainer_id, principal))

    return router
