"""What the issuer publishes, as Open Badges 3.0 / W3C VC 2.0 documents: the issuer's profile,
the achievements' definitions, a trainer's credential and the revocation status list. Pure
functions: the words come from the catalogues, the addresses from ``Links``."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from yts_contracts.credentials import Achievement

from yts_credentials.i18n import Words
from yts_credentials.settings import LANGUAGES

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB3_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
STATUS_PURPOSE = "revocation"
# Certification is the programme's certificate; the facilitation milestones are badges.
ACHIEVEMENT_TYPES = {Achievement.CERTIFIED: "Certificate"}


@dataclass(frozen=True)
class Links:
    """The public addresses of what the issuer publishes, under its ``base`` URL."""

    base: str

    @property
    def issuer(self) -> str:
        return f"{self.base}/issuer"

    @property
    def jwks(self) -> str:
        return f"{self.base}/.well-known/jwks.json"

    @property
    def status_list(self) -> str:
        return f"{self.base}/status/{STATUS_PURPOSE}"

    def achievement(self, achievement: Achievement) -> str:
        return f"{self.base}/achievements/{achievement.value}"

    def credential_page(self, credential_id: uuid.UUID) -> str:
        return f"{self.base}/credentials/{credential_id}"


def moment(value: datetime) -> str:
    """An RFC 3339 moment in whole seconds (JWT dates are whole seconds: nbf == validFrom)."""
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def identity_hash(trainer_id: uuid.UUID, salt: str) -> str:
    """OB 3.0's IdentityHash: ``sha256$`` and the hex SHA-256 of the identifier and its salt."""
    digest = hashlib.sha256(f"{trainer_id}{salt}".encode()).hexdigest()
    return f"sha256${digest}"


def issuer_profile(links: Links, words: Words) -> dict[str, Any]:
    return {
        "id": links.issuer,
        "type": ["Profile"],
        "name": words("issuer.name"),
        "description": words("issuer.description"),
        "url": links.base,
    }


def achievement_definition(achievement: Achievement, links: Links, words: Words) -> dict[str, Any]:
    """The achievement in ``words``' language; its editions in the other languages are
    ``related`` (OB 3.0's way to name "alternate language editions" of an achievement)."""
    prefix = f"achievement.{achievement.value}"
    return {
        "id": links.achievement(achievement),
        "type": ["Achievement"],
        "achievementType": ACHIEVEMENT_TYPES.get(achievement, "Badge"),
        "name": words(f"{prefix}.name"),
        "description": words(f"{prefix}.description"),
        "criteria": {"narrative": words(f"{prefix}.criteria")},
        "creator": issuer_profile(links, words),
        "inLanguage": words.lang,
        "related": [
            {
                "id": f"{links.achievement(achievement)}?lang={lang}",
                "type": ["Related"],
                "inLanguage": lang,
            }
            for lang in LANGUAGES
            if lang != words.lang
        ],
    }


@dataclass(frozen=True)
class Award:
    """What a credential states: who (by a salted hash), what, when, and its status entry."""

    credential_id: uuid.UUID
    trainer_id: uuid.UUID
    salt: str
    achievement: Achievement
    achieved_on: date
    issued_at: datetime
    status_index: int


def open_badge_credential(award: Award, links: Links, words: Words) -> dict[str, Any]:
    """The OpenBadgeCredential. The subject has no ``id`` and no name: an IdentityObject with
    the salted hash of the trainer's opaque id identifies them (OB 3.0 allows either)."""
    return {
        "@context": [VC_CONTEXT, OB3_CONTEXT],
        "id": award.credential_id.urn,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer_profile(links, words),
        "validFrom": moment(award.issued_at),
        "name": words(f"achievement.{award.achievement.value}.name"),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": identity_hash(award.trainer_id, award.salt),
                    "identityType": "systemId",
                    "hashed": True,
                    "salt": award.salt,
                }
            ],
            "activityEndDate": f"{award.achieved_on.isoformat()}T00:00:00Z",
            "achievement": achievement_definition(award.achievement, links, words),
        },
        "credentialStatus": {
            "id": f"{links.status_list}#{award.status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": STATUS_PURPOSE,
            "statusListIndex": str(award.status_index),
            "statusListCredential": links.status_list,
        },
        "credentialSchema": [{"id": OB3_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }


def jwt_claims(credential: dict[str, Any]) -> dict[str, Any]:
    """VC-JWT (OB 3.0 §8.2): the payload is the credential itself, with ``iss``, ``jti`` and
    ``nbf`` mirroring issuer.id, id and validFrom (no ``sub``: the subject has no id)."""
    valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
    issuer = credential["issuer"]
    return {
        **credential,
        "iss": issuer["id"] if isinstance(issuer, dict) else issuer,
        "jti": credential["id"],
        "nbf": int(valid_from.timestamp()),
    }


def status_list_credential(links: Links, encoded_list: str, issued_at: datetime) -> dict[str, Any]:
    """The BitstringStatusListCredential verifiers read (W3C Bitstring Status List 1.0)."""
    return {
        "@context": [VC_CONTEXT],
        "id": links.status_list,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": links.issuer,
        "validFrom": moment(issued_at),
        "credentialSubject": {
            "id": f"{links.status_list}#list",
            "type": "BitstringStatusList",
            "statusPurpose": STATUS_PURPOSE,
            "encodedList": encoded_list,
        },
    }
