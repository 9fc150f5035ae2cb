"""Verifying a credential as any OB 3.0 verifier would: the signature with the issuer's
published key, the Open Badges 3.0 form, the validity dates and the revocation status list.
Pure: the caller hands in the status list's bits (read from the signed list it publishes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from yts_credentials import statuslist
from yts_credentials.documents import OB3_CONTEXT, STATUS_PURPOSE, VC_CONTEXT, Links
from yts_credentials.signing import NotSigned, Signer, read_unverified


class Verdict(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    TAMPERED = "tampered"
    UNKNOWN_ISSUER = "unknown_issuer"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


CHECKS = ("signature", "shape", "validity", "status")


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    checks: tuple[Check, ...]
    credential: dict[str, Any] | None = field(default=None)

    @property
    def achievement(self) -> str | None:
        """The achievement's key (``certified``) when the credential is one of ours."""
        if self.credential is None:
            return None
        achievement_id = str(
            self.credential.get("credentialSubject", {}).get("achievement", {}).get("id", "")
        )
        return achievement_id.rsplit("/", 1)[-1] or None


def verify(
    token: str,
    signer: Signer,
    links: Links,
    status_bits: Callable[[], bytes],
    now: datetime | None = None,
) -> Verification:
    now = now or datetime.now(UTC)
    checks: list[Check] = []

    def verdict(result: Verdict, credential: dict[str, Any] | None = None) -> Verification:
        done = {check.name for check in checks}
        rest = [Check(name, Outcome.SKIPPED) for name in CHECKS if name not in done]
        return Verification(result, (*checks, *rest), credential)

    try:
        header, payload = read_unverified(token)
    except NotSigned as exc:
        checks.append(Check("signature", Outcome.FAILED, str(exc)))
        return verdict(Verdict.TAMPERED)
    if header.get("kid") != signer.key.kid:
        checks.append(
            Check("signature", Outcome.FAILED, f"signed with key {header.get('kid')!r}, not ours")
        )
        return verdict(Verdict.UNKNOWN_ISSUER)
    if not signer.signed_by_us(token):
        checks.append(Check("signature", Outcome.FAILED, "the signature does not match"))
        return verdict(Verdict.TAMPERED)
    checks.append(Check("signature", Outcome.PASSED))

    problems = shape_problems(payload, links)
    if problems:
        checks.append(Check("shape", Outcome.FAILED, "; ".join(problems)))
        return verdict(Verdict.TAMPERED, payload)
    checks.append(Check("shape", Outcome.PASSED))

    valid_from = _moment(payload["validFrom"])
    valid_until = _moment(payload["validUntil"]) if "validUntil" in payload else None
    if valid_from > now:
        checks.append(Check("validity", Outcome.FAILED, f"valid from {payload['validFrom']}"))
        return verdict(Verdict.NOT_YET_VALID, payload)
    if valid_until is not None and valid_until <= now:
        checks.append(Check("validity", Outcome.FAILED, f"valid until {payload['validUntil']}"))
        return verdict(Verdict.EXPIRED, payload)
    checks.append(Check("validity", Outcome.PASSED))

    index = int(payload["credentialStatus"]["statusListIndex"])
    if statuslist.is_set(status_bits(), index):
        checks.append(Check("status", Outcome.FAILED, f"revoked (index {index})"))
        return verdict(Verdict.REVOKED, payload)
    checks.append(Check("status", Outcome.PASSED))
    return verdict(Verdict.VALID, payload)


def shape_problems(payload: dict[str, Any], links: Links) -> list[str]:
    """What in the payload breaks OB 3.0's form or VC-JWT's rules (OB 3.0 §8.2), or points
    elsewhere than this issuer's status list."""
    problems: list[str] = []
    context = payload.get("@context")
    if not (isinstance(context, list) and context[:2] == [VC_CONTEXT, OB3_CONTEXT]):
        problems.append(f"@context must begin with {VC_CONTEXT} and {OB3_CONTEXT}")
    types = payload.get("type")
    if not (
        isinstance(types, list)
        and "VerifiableCredential" in types
        and {"OpenBadgeCredential", "AchievementCredential"} & set(types)
    ):
        problems.append("type must hold VerifiableCredential and OpenBadgeCredential")
    issuer = payload.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer_id != links.issuer or payload.get("iss") != issuer_id:
        problems.append("iss and issuer.id must both be this issuer")
    if not payload.get("id") or payload.get("jti") != payload.get("id"):
        problems.append("jti must equal id")
    try:
        if int(payload.get("nbf", -1)) != int(_moment(payload["validFrom"]).timestamp()):
            problems.append("nbf must equal validFrom")
    except (KeyError, TypeError, ValueError):
        problems.append("validFrom must be an RFC 3339 date-time")
    subject = payload.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("achievement"), dict):
        problems.append("credentialSubject must name its achievement")
    elif not (subject.get("id") or subject.get("identifier")):
        problems.append("credentialSubject needs an id or an identifier")
    status = payload.get("credentialStatus")
    if not (
        isinstance(status, dict)
        and status.get("type") == "BitstringStatusListEntry"
        and status.get("statusPurpose") == STATUS_PURPOSE
        and status.get("statusListCredential") == links.status_list
        and str(status.get("statusListIndex", "")).isdigit()
    ):
        problems.append("credentialStatus must be an entry of this issuer's revocation list")
    return problems


def _moment(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a date-time without a time zone")
    return moment


ENVELOPE_PREFIX = "data:application/vc+jwt,"


def token_of(submitted: str | dict[str, Any]) -> str | None:
    """The VC-JWT in what was submitted: the text itself, or the ``id`` of a VC 2.0
    EnvelopedVerifiableCredential (``data:application/vc+jwt,<JWT>``); None for JSON that
    carries no VC-JWT."""
    if isinstance(submitted, str):
        return submitted.strip()
    types = submitted.get("type")
    types = types if isinstance(types, list) else [types]
    ident = submitted.get("id")
    enveloped = "EnvelopedVerifiableCredential" in types and isinstance(ident, str)
    if enveloped and str(ident).startswith(ENVELOPE_PREFIX):
        return str(ident).removeprefix(ENVELOPE_PREFIX)
    return None


def unsigned(submitted: dict[str, Any]) -> Verification:
    """A JSON credential with no VC-JWT: nothing proves who wrote it."""
    reason = "JSON without a VC-JWT: nothing proves the issuer wrote it"
    checks = [Check("signature", Outcome.FAILED, reason)]
    checks += [Check(name, Outcome.SKIPPED) for name in CHECKS if name != "signature"]
    return Verification(Verdict.TAMPERED, tuple(checks), None)
