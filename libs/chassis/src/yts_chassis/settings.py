"""Settings every service shares; each service subclasses with its own ``YTS_<NAME>_`` prefix.

Values come from the environment (and an optional ``.env``), are typed, and are validated at
start-up: a bad value stops the service with an error that names the variable.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Asia/Almaty)") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]
"""An IANA time zone name, checked at start-up."""

MAX_EVENT_BYTES = 256 * 1024
"""Events are under a kilobyte; this stays well below NATS' 1 MB ``max_payload`` so that a
dead-lettered copy, with its added headers, still fits."""


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        extra="ignore",
        env_file=".env",
        env_file_encoding="utf-8",
    )

    service_name: str = Field(default="yts", description="name in logs, metrics and NATS")
    database_url: str = Field(
        default="sqlite+aiosqlite:///./.state/yts.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    nats_url: str = Field(
        default="nats://127.0.0.1:4222", description="comma-separated NATS server URLs"
    )
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_inbox_prefix: str = Field(default="_INBOX", description="reply-inbox prefix on NATS")
    admin_token: SecretStr | None = Field(
        default=None, description="bootstrap admin bearer token (kept only as a hash in memory)"
    )
    access_load_wait_seconds: float = Field(
        default=5.0,
        ge=0,
        description="how long a request waits, while the service starts, for its copy of the "
        "access bucket before it is answered 503",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    outbox_poll_seconds: float = Field(
        default=2.0, gt=0, description="safety-net poll; commits wake the relay at once"
    )
    outbox_batch_size: int = Field(default=200, ge=1, le=10_000)
    publish_timeout_seconds: float = Field(default=5.0, gt=0)
    retry_base_seconds: float = Field(default=0.5, gt=0, description="first redelivery delay")
    retry_max_seconds: float = Field(default=60.0, gt=0, description="cap of redelivery delay")
    max_handler_attempts: int = Field(
        default=8,
        ge=1,
        description="attempts before an event whose handler keeps failing "
        "(not for a transient fault) goes to the dead-letter stream",
    )
    max_event_bytes: int = Field(
        default=MAX_EVENT_BYTES,
        ge=1024,
        description="an event body larger than this is poison and goes to the dead-letter stream",
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="an HTTP request body larger than this gets 413 before it is read",
    )
    idempotency_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="how long the response to a create sent with an Idempotency-Key is kept "
        "for replay; the key may be used for a new request after that",
    )

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, value: str) -> str:
        for url in value.split(","):
            if not url.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"{url!r} is not a nats://, tls:// or ws(s):// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///<file> or postgresql+asyncpg://user@host/db")
        return value

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @property
    def cloudevents_source(self) -> str:
        return f"/yts/{self.service_name}"


class SettingsError(SystemExit):
    """Raised at start-up with a message naming each bad variable."""


S = TypeVar("S", bound=ServiceSettings)


def load_settings(settings_type: type[S]) -> S:
    try:
        return settings_type()
    except ValidationError as exc:
        prefix = settings_type.model_config.get("env_prefix", "")
        lines = [
            f"  {prefix}{'__'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from exc
