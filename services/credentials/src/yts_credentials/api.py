"""The credentials service's HTTP routes for machines: what the issuer publishes (keys,
profile, achievements, status list, a credential's VC-JWT), verification, and programme
staff's revocation. Parse, authorise, call a use case; refusals are answered as problem+json
by ``yts_chassis.refusals``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from yts_chassis.auth import Principal, Role, require_roles
from yts_chassis.paging import Limit, Offset, Page
from yts_contracts.credentials import Achievement, RevocationReason

from yts_credentials import usecases
from yts_credentials.documents import (
    OB3_CONTEXT,
    VC_CONTEXT,
    achievement_definition,
    issuer_profile,
)
from yts_credentials.errors import CredentialNotKnown
from yts_credentials.i18n import Words
from yts_credentials.schemas import CredentialOut, RevocationIn, VerificationIn, VerificationOut
from yts_credentials.settings import LANGUAGES
from yts_credentials.store import IssuedCredential

Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
VC_JWT = "application/vc+jwt"
Language = Annotated[str | None, Query(pattern="^(kk|ru|en)$", description="kk, ru or en")]


def credential_out(deps: usecases.Deps, credential: IssuedCredential) -> CredentialOut:
    return CredentialOut.model_validate(
        {
            **credential.model_dump(),
            "verification_url": deps.links.credential_page(credential.credential_id),
        }
    )


def build_router(deps: usecases.Deps) -> APIRouter:
    router = APIRouter()

    def words(lang: str | None) -> Words:
        return Words(lang if lang in LANGUAGES else deps.language)

    @router.get("/.well-known/jwks.json", tags=["issuer"], summary="The issuer's public keys")
    async def jwks() -> dict[str, Any]:
        """The JWKS whose keys verify every credential and status list (``kid`` in each
        VC-JWT's header is a key's address here)."""
        return deps.signer.key.jwks()

    @router.get("/issuer", tags=["issuer"], summary="The issuer's profile (Open Badges 3.0)")
    async def issuer(lang: Language = None) -> dict[str, Any]:
        return {"@context": [VC_CONTEXT, OB3_CONTEXT], **issuer_profile(deps.links, words(lang))}

    @router.get(
        "/achievements/{achievement}",
        tags=["issuer"],
        summary="An achievement's definition (criteria, description) in kk, ru or en",
    )
    async def achievement(achievement: Achievement, lang: Language = None) -> dict[str, Any]:
        return {
            "@context": [VC_CONTEXT, OB3_CONTEXT],
            **achievement_definition(achievement, deps.links, words(lang)),
        }

    @router.get(
        "/status/revocation",
        tags=["issuer"],
        summary="The revocation status list (a signed BitstringStatusListCredential)",
        response_class=PlainTextResponse,
        responses={200: {"content": {VC_JWT: {}}}},
    )
    async def status_list() -> PlainTextResponse:
        token = await usecases.signed_status_list(deps)
        return PlainTextResponse(token, media_type=VC_JWT, headers={"Cache-Control": "no-cache"})

    @router.get(
        "/credentials/{credential_id}.jwt",
        tags=["credentials"],
        summary="A credential as its holder keeps it (VC-JWT)",
        response_class=PlainTextResponse,
        responses={200: {"content": {VC_JWT: {}}}},
    )
    async def credential_token(credential_id: uuid.UUID) -> PlainTextResponse:
        """Whoever has the credential's address (its QR code) may download it; it names no
        one. After the trainer's erasure it is gone (404)."""
        credential = await usecases.credential_by_id(deps, credential_id)
        if credential.token is None:
            raise CredentialNotKnown(credential_id)
        return PlainTextResponse(
            credential.token,
            media_type=VC_JWT,
            headers={"Content-Disposition": f'attachment; filename="{credential_id}.jwt"'},
        )

    @router.post(
        "/v1/verifications",
        tags=["verification"],
        summary="Verify a credential: valid, revoked, tampered, unknown issuer or expired",
    )
    async def verification(body: VerificationIn) -> VerificationOut:
        """Checks the signature with the published key, the Open Badges 3.0 form, the validity
        dates and the revocation status list. Public: verifiers need no token."""
        return VerificationOut.of(await usecases.verify_submitted(deps, body.credential))

    @router.get("/v1/credentials", tags=["credentials"], summary="Credentials issued")
    async def credentials(
        _: Admin,
        trainer_id: uuid.UUID | None = None,
        achievement: Achievement | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[CredentialOut]:
        found = await usecases.credentials_list(
            deps, trainer_id=trainer_id, achievement=achievement, limit=limit, offset=offset
        )
        return Page[CredentialOut](
            items=[credential_out(deps, c) for c in found.items],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    @router.get("/v1/credentials/{credential_id}", tags=["credentials"], summary="A credential")
    async def credential(credential_id: uuid.UUID, _: Admin) -> CredentialOut:
        return credential_out(deps, await usecases.credential_by_id(deps, credential_id))

    @router.post(
        "/v1/credentials/{credential_id}/revocation",
        tags=["credentials"],
        summary="Revoke a credential (programme staff)",
    )
    async def revocation(credential_id: uuid.UUID, body: RevocationIn, _: Admin) -> CredentialOut:
        """Sets the credential's bit in the status list and publishes credential.revoked."""
        reason = RevocationReason(body.reason)
        return credential_out(deps, await usecases.revoke(deps, credential_id, reason))

    return router
