"""The credentials service in tests: its app on a test's own nats-server, the facts it
listens to published the way sessions and enrolment publish them, and an independent reading
of what it issues (no code of the service: the signature checked with ``cryptography``, the
status list decoded with the standard library)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from yts_contracts.milestones import MilestoneKind, MilestoneReached, milestone_id
from yts_credentials.main import create_app
from yts_credentials.settings import CredentialsSettings

from tests.support.services import settings_for
from tests.support.sessions_roster import Enrolment

# The 1EdTech JSON Schema of an OB 3.0 credential (VC 2.0 form), vendored with the tests.
OB3_SCHEMA = Path(__file__).resolve().parents[1] / "credentials" / "ob_v3p0_schema.json"


def credentials_app(nats_url: str, database_url: str, state: Path, **overrides: Any) -> FastAPI:
    settings = settings_for(
        CredentialsSettings,
        nats_url=nats_url,
        database_url=database_url,
        signing_key_file=state / "issuer-key.json",
        **overrides,
    )
    return create_app(settings)


@dataclass
class Facts(Enrolment):
    """Publishes enrolment's trainer events and sessions' milestones on the real streams."""

    async def milestone(
        self, kind: MilestoneKind, subject_id: uuid.UUID, reached_at: datetime | None = None
    ) -> MilestoneReached:
        subject_type = kind.subject_type
        data = MilestoneReached(
            milestone_id=milestone_id(kind, subject_type, subject_id),
            kind=kind,
            subject={"type": subject_type, "id": subject_id},
            reached_at=reached_at or datetime.now(UTC),
            evidence={"core_modules_completed": 6},
            caused_by=uuid.uuid4(),
        )
        await self.publish(data)
        return data


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64url(header)), json.loads(b64url(payload))


def signature_verifies(token: str, jwks: dict[str, Any]) -> bool:
    """The compact JWS checked with ``cryptography``'s Ed25519 and the JWKS's key of the
    header's ``kid``: nothing of joserfc or of the service."""
    header, _ = jwt_parts(token)
    keys = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    if header.get("alg") != "EdDSA" or len(keys) != 1 or keys[0]["crv"] != "Ed25519":
        return False
    signing_input, _, signature = token.rpartition(".")
    public = Ed25519PublicKey.from_public_bytes(b64url(keys[0]["x"]))
    try:
        public.verify(b64url(signature), signing_input.encode())
    except InvalidSignature:
        return False
    return True


def revoked_bit(status_list_token: str, index: int) -> bool:
    """Bit ``index`` of a Bitstring Status List credential, decoded by hand: multibase ``u``,
    base64url, GZIP, most significant bit first."""
    _, status = jwt_parts(status_list_token)
    encoded = status["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    bits = gzip.decompress(b64url(encoded[1:]))
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
