"""Composition root of the credentials service: settings -> logging -> db -> broker -> the
issuer's key -> routes, pages and subscriptions."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import load_settings

from yts_credentials import api, keys, pages, store, subscriptions, usecases
from yts_credentials.documents import Links
from yts_credentials.settings import CredentialsSettings
from yts_credentials.signing import Signer

MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = """
Verifiable credentials for young trainers: an Open Badges 3.0 `OpenBadgeCredential`, signed as
a VC-JWT (EdDSA, Ed25519), for each trainer's certification and facilitation milestone.

Anyone may verify a credential (`POST /v1/verifications`, or the page at `/verify`) against the
issuer's published key (`/.well-known/jwks.json`) and revocation list (`/status/revocation`).
No names live here: a credential identifies its holder by a salted hash of an opaque id.
Programme staff (admin token) may revoke a credential.
"""


def build_deps(runtime: ServiceRuntime, settings: CredentialsSettings) -> usecases.Deps:
    links = Links(settings.public_url)
    secret = settings.signing_key.get_secret_value() if settings.signing_key else None

    def issuer_key() -> keys.IssuerKey:
        private = keys.load_or_create(settings.signing_key_file, secret)
        return keys.IssuerKey.of(private, links.jwks)

    return usecases.Deps(
        db=runtime.db,
        outbox=runtime.outbox,
        signer=Signer(issuer_key),
        links=links,
        language=settings.credential_language,
        timezone=ZoneInfo(settings.timezone),
        status_list_length=settings.status_list_length,
    )


def create_app(settings: CredentialsSettings | None = None) -> FastAPI:
    settings = settings or load_settings(CredentialsSettings)
    runtime = ServiceRuntime(settings, store.messaging, MIGRATIONS)
    deps = build_deps(runtime, settings)
    return runtime.create_app(
        title="YTS credentials",
        description=DESCRIPTION,
        routers=[api.build_router(deps), pages.build_router(deps)],
        subscriptions=[subscriptions.build_router(runtime, deps)],
    )
