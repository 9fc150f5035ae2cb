"""The public verification pages, server-rendered (Jinja2), in Kazakh, Russian or English: no
script, no CDN, one stylesheet served here; readable on a phone.

- ``GET /verify``: paste a credential; ``POST /verify`` shows the verdict (the same use case
  as ``POST /v1/verifications``).
- ``GET /credentials/{id}``: where a certificate's QR code points: the verdict of the
  credential this service issued under that id.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from yts_contracts.credentials import Achievement

from yts_credentials import usecases
from yts_credentials.i18n import COOKIE, Words, choose
from yts_credentials.settings import LANGUAGES
from yts_credentials.store import IssuedCredential
from yts_credentials.verification import Verdict, Verification

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = Path(__file__).parent / "assets" / "credentials.css"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
MAX_PASTED = 64 * 1024

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def build_router(deps: usecases.Deps) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def render(request: Request, lang: str, status: int, **context: Any) -> HTMLResponse:
        words = Words(lang)
        page = environment.get_template("verify.html").render(
            t=words, lang=lang, languages=LANGUAGES, path=request.url.path, **context
        )
        response = HTMLResponse(page, status_code=status)
        if request.query_params.get("lang") in LANGUAGES:
            # Remembered: the next page opens in the language chosen.
            response.set_cookie(
                COOKIE, lang, max_age=LANGUAGE_COOKIE_SECONDS, samesite="lax", httponly=True
            )
        return response

    def language(request: Request) -> str:
        return choose(
            request.query_params.get("lang"),
            request.cookies.get(COOKIE),
            request.headers.get("accept-language"),
        )

    def result(verification: Verification, words: Words) -> dict[str, Any]:
        credential = verification.credential or {}
        achievement = verification.achievement
        known = achievement in {a.value for a in Achievement}
        return {
            "verdict": verification.verdict.value,
            "checks": verification.checks,
            "achievement": words(f"achievement.{achievement}.name") if known else None,
            "credential_id": str(credential.get("id", "")).removeprefix("urn:uuid:") or None,
            "issued_on": _day(credential.get("credentialSubject", {}).get("activityEndDate")),
        }

    @router.get("/verify", response_class=HTMLResponse)
    async def verify_form(request: Request) -> HTMLResponse:
        return render(request, language(request), 200)

    @router.post("/verify", response_class=HTMLResponse)
    async def verify_pasted(
        request: Request, credential: Annotated[str, Form(max_length=MAX_PASTED)] = ""
    ) -> HTMLResponse:
        lang = language(request)
        if not credential.strip():
            return render(request, lang, 422, error="form.error.empty", pasted=credential)
        verification = await usecases.verify_submitted(deps, _pasted(credential))
        return render(request, lang, 200, pasted=credential, **result(verification, Words(lang)))

    @router.get("/credentials/{credential_id}", response_class=HTMLResponse)
    async def credential_page(
        request: Request, credential_id: uuid.UUID, lang: Annotated[str | None, Query()] = None
    ) -> HTMLResponse:
        lang = language(request)
        words = Words(lang)
        async with deps.db.session() as session:
            stored = await session.get(IssuedCredential, credential_id)
        if stored is None:
            return render(request, lang, 404, verdict="unknown")
        if stored.token is None:
            # Erased: the signed credential is gone, what is left says it was revoked.
            return render(request, lang, 200, **_revoked_remains(stored, words))
        verification = await usecases.verify_token(deps, stored.token)
        return render(
            request,
            lang,
            200,
            download=f"/credentials/{credential_id}.jwt",
            revoked_on=words.day(stored.revoked_at.date()) if stored.revoked_at else None,
            **result(verification, words),
        )

    @router.get("/assets/credentials.css")
    async def stylesheet() -> FileResponse:
        return FileResponse(STYLESHEET, media_type="text/css")

    return router


def _pasted(text: str) -> str | dict[str, Any]:
    """Pasted JSON is read as JSON (an enveloped credential); anything else as a VC-JWT."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            return stripped
        if isinstance(document, dict):
            return document
    return stripped


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _revoked_remains(stored: IssuedCredential, words: Words) -> dict[str, Any]:
    return {
        "verdict": Verdict.REVOKED.value,
        "achievement": words(f"achievement.{stored.achievement}.name"),
        "credential_id": str(stored.credential_id),
        "issued_on": stored.achieved_on,
        "revoked_on": words.day(stored.revoked_at.date()) if stored.revoked_at else None,
    }
