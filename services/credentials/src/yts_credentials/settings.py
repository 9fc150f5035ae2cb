from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict
from yts_chassis.languages import LANGUAGES
from yts_chassis.settings import ServiceSettings, TimeZoneName


class CredentialsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="YTS_CREDENTIALS_")

    service_name: str = "credentials"
    database_url: str = "sqlite+aiosqlite:///./.state/credentials.db"
    public_url: str = Field(
        default="http://127.0.0.1:8005",
        description="the address verifiers reach this service at: the issuer's id, the "
        "verification pages, the status list and the keys are published under it",
    )
    signing_key_file: Path = Field(
        default=Path(".state/credentials-issuer-key.json"),
        description="the issuer's Ed25519 private key (a JWK); generated once, mode 0600, "
        "when missing and no signing_key is set",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="the issuer's Ed25519 private key as a JWK (JSON text); wins over the file",
    )
    credential_language: str = Field(
        default="kk",
        description="the language of a credential's names and descriptions (kk, ru or en); "
        "the other two are linked from it as related editions",
    )
    timezone: TimeZoneName = Field(
        default="Asia/Almaty", description="the programme's calendar: the day of a milestone"
    )
    status_list_length: int = Field(
        default=131_072,
        ge=131_072,
        description="bits in the revocation status list (at least 16 KiB, as the Bitstring "
        "Status List recommends, so that one credential hides among many)",
    )

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or " " in value:
            raise ValueError("an absolute http(s) URL, e.g. https://credentials.example.kz")
        return value.rstrip("/")

    @field_validator("credential_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"one of {', '.join(LANGUAGES)}")
        return value
