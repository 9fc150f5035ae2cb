"""What the credentials service does: issue a credential for a trainer's milestone, revoke
one (programme staff) or all of an erased trainer's, and answer a verification. Each state
change and its event are written in one transaction (the outbox)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.database import Database, upsert
from yts_chassis.outbox import Outbox
from yts_chassis.paging import Slice, page
from yts_contracts.credentials import (
    Achievement,
    CredentialIssued,
    CredentialRevoked,
    RevocationReason,
)
from yts_contracts.enrolment import TrainerEnrolled, TrainerErased
from yts_contracts.milestones import MilestoneReached

from yts_credentials import statuslist
from yts_credentials.documents import (
    Award,
    Links,
    jwt_claims,
    open_badge_credential,
    status_list_credential,
)
from yts_credentials.errors import CredentialAlreadyRevoked, CredentialNotKnown
from yts_credentials.i18n import Words
from yts_credentials.signing import Signer, read_unverified
from yts_credentials.store import IssuedCredential, KnownTrainer
from yts_credentials.verification import Verification, token_of, unsigned, verify


@dataclass(frozen=True)
class Deps:
    db: Database
    outbox: Outbox
    signer: Signer
    links: Links
    language: str
    timezone: ZoneInfo
    status_list_length: int

    @property
    def words(self) -> Words:
        return Words(self.language)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def issue_for_milestone(deps: Deps, session: AsyncSession, data: MilestoneReached) -> None:
    """One credential per trainer milestone that deserves one; nothing for another kind, a
    milestone already credited (``milestone_id`` is unique as a second guard) or an erased
    trainer."""
    achievement = Achievement.of_milestone(data.kind)
    if achievement is None or data.subject.id is None:
        return
    issued = await session.scalar(
        select(col(IssuedCredential.credential_id)).where(
            col(IssuedCredential.milestone_id) == data.milestone_id
        )
    )
    trainer = await session.get(KnownTrainer, data.subject.id)
    if issued is not None or (trainer is not None and trainer.erased_at is not None):
        return
    award = Award(
        credential_id=uuid.uuid4(),
        trainer_id=data.subject.id,
        salt=secrets.token_hex(16),
        achievement=achievement,
        achieved_on=data.reached_at.astimezone(deps.timezone).date(),
        issued_at=_now(),
        status_index=await _free_status_index(session, deps.status_list_length),
    )
    token = deps.signer.sign(jwt_claims(open_badge_credential(award, deps.links, deps.words)))
    school_id = trainer.school_id if trainer is not None else None
    session.add(
        IssuedCredential(
            credential_id=award.credential_id,
            milestone_id=data.milestone_id,
            trainer_id=award.trainer_id,
            school_id=school_id,
            achievement=achievement.value,
            achieved_on=award.achieved_on,
            issued_at=award.issued_at,
            status_index=award.status_index,
            salt=award.salt,
            token=token,
        )
    )
    await session.flush()
    await deps.outbox.add(
        session,
        CredentialIssued(
            credential_id=award.credential_id,
            trainer_id=award.trainer_id,
            school_id=school_id,
            achievement=achievement,
            milestone_id=data.milestone_id,
            issued_on=award.achieved_on,
            issued_at=award.issued_at,
            verification_url=deps.links.credential_page(award.credential_id),
        ),
    )


async def _free_status_index(session: AsyncSession, length: int) -> int:
    """A random unused index: issue order cannot be read from the list (the unique column
    settles a race between replicas)."""
    while True:
        candidates = {secrets.randbelow(length) for _ in range(8)}
        taken = set(
            await session.scalars(
                select(col(IssuedCredential.status_index)).where(
                    col(IssuedCredential.status_index).in_(candidates)
                )
            )
        )
        free = sorted(candidates - taken)
        if free:
            return free[0]


async def record_enrolment(session: AsyncSession, data: TrainerEnrolled) -> None:
    """The trainer's school, for the events of their credentials (never after an erasure)."""
    trainer = await session.get(KnownTrainer, data.trainer_id)
    if trainer is None:
        await upsert(
            session,
            KnownTrainer,
            {"trainer_id": data.trainer_id, "school_id": data.school_id},
            key=["trainer_id"],
            update=[],
        )
    elif trainer.erased_at is None:
        trainer.school_id = data.school_id


async def erase_trainer(deps: Deps, session: AsyncSession, data: TrainerErased) -> None:
    """Revoke every credential of the trainer, then forget what tied them to the trainer."""
    await upsert(
        session,
        KnownTrainer,
        {"trainer_id": data.trainer_id, "school_id": None, "erased_at": data.erased_at},
        key=["trainer_id"],
    )
    held = await session.scalars(
        select(IssuedCredential).where(col(IssuedCredential.trainer_id) == data.trainer_id)
    )
    for credential in held:
        if credential.revoked_at is None:
            await _revoke(deps, session, credential, RevocationReason.ERASED)
    await session.execute(
        update(IssuedCredential)
        .where(col(IssuedCredential.trainer_id) == data.trainer_id)
        .values(trainer_id=None, school_id=None, salt=None, token=None)
    )


async def revoke(
    deps: Deps, credential_id: uuid.UUID, reason: RevocationReason
) -> IssuedCredential:
    async with deps.db.transaction() as session:
        credential = await session.get(IssuedCredential, credential_id, with_for_update=True)
        if credential is None:
            raise CredentialNotKnown(credential_id)
        if credential.revoked_at is not None:
            raise CredentialAlreadyRevoked(credential_id)
        await _revoke(deps, session, credential, reason)
        return credential


async def _revoke(
    deps: Deps, session: AsyncSession, credential: IssuedCredential, reason: RevocationReason
) -> None:
    credential.revoked_at = _now()
    credential.revocation_reason = reason.value
    if credential.trainer_id is not None:
        await deps.outbox.add(
            session,
            CredentialRevoked(
                credential_id=credential.credential_id,
                trainer_id=credential.trainer_id,
                reason=reason,
                revoked_at=credential.revoked_at,
            ),
        )


async def signed_status_list(deps: Deps) -> str:
    """The revocation list as a signed BitstringStatusListCredential (VC-JWT)."""
    async with deps.db.snapshot() as session:
        revoked = list(
            await session.scalars(
                select(col(IssuedCredential.status_index)).where(
                    col(IssuedCredential.revoked_at).is_not(None)
                )
            )
        )
    encoded = statuslist.encode(revoked, deps.status_list_length)
    return deps.signer.sign(jwt_claims(status_list_credential(deps.links, encoded, _now())))


async def verify_submitted(deps: Deps, submitted: str | dict[str, Any]) -> Verification:
    token = token_of(submitted)
    if token is None:
        assert isinstance(submitted, dict)
        return unsigned(submitted)
    return await verify_token(deps, token)


async def verify_token(deps: Deps, token: str) -> Verification:
    """Verify as an outside verifier would, reading the status list this service publishes
    (its signature checked, its bits decoded) rather than the table behind it."""
    status_token = await signed_status_list(deps)

    def status_bits() -> bytes:
        if not deps.signer.signed_by_us(status_token):
            raise ValueError("the status list's signature does not verify")
        _, status = read_unverified(status_token)
        return statuslist.decode(status["credentialSubject"]["encodedList"])

    return verify(token, deps.signer, deps.links, status_bits)


async def credential_by_id(deps: Deps, credential_id: uuid.UUID) -> IssuedCredential:
    async with deps.db.session() as session:
        credential = await session.get(IssuedCredential, credential_id)
    if credential is None:
        raise CredentialNotKnown(credential_id)
    return credential


async def credentials_list(
    deps: Deps,
    *,
    trainer_id: uuid.UUID | None,
    achievement: Achievement | None,
    limit: int,
    offset: int,
) -> Slice[IssuedCredential]:
    query = select(IssuedCredential)
    if trainer_id is not None:
        query = query.where(col(IssuedCredential.trainer_id) == trainer_id)
    if achievement is not None:
        query = query.where(col(IssuedCredential.achievement) == achievement.value)
    order = [col(IssuedCredential.issued_at), col(IssuedCredential.credential_id)]
    async with deps.db.snapshot() as session:
        return await page(session, query, order, limit, offset)
