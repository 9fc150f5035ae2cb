"""``YTS_WORKSPACE_*``: where the services and NATS are, how mail leaves, how long a sign-in
lasts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkspaceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="YTS_WORKSPACE_",
        env_nested_delimiter="__",
        extra="ignore",
        env_file=".env",
        env_file_encoding="utf-8",
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the workspace's address as people open it; sign-in links point here, and "
        "an https address makes the session cookie Secure",
    )
    enrolment_url: str = "http://127.0.0.1:8001"
    sessions_url: str = "http://127.0.0.1:8002"
    notifications_url: str = "http://127.0.0.1:8003"
    reporting_url: str = "http://127.0.0.1:8004"
    credentials_url: str = "http://127.0.0.1:8006"
    dashboard_url: str | None = Field(
        default=None, description="the dashboard as people open it; default: reporting_url"
    )
    api_timeout_seconds: float = Field(default=15.0, gt=0)

    nats_url: str = Field(default="nats://127.0.0.1:4222", description="comma-separated URLs")
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_inbox_prefix: str = "_INBOX"

    signing_key: SecretStr | None = Field(
        default=None,
        description="the private JWK (Ed25519) that signs people's access tokens (every "
        "instance the same); default: the key in signing_key_file",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="where the signing key is kept when the setting gives none (made once, "
        "mode 0600); with neither, each start makes a key of its own",
    )
    token_seconds: int = Field(
        default=120, ge=10, le=900, description="life of a token minted for one call"
    )
    link_minutes: int = Field(default=15, ge=1, le=60, description="life of a sign-in link")
    idle_minutes: int = Field(default=60, ge=1, description="a session unused this long ends")
    absolute_hours: int = Field(default=12, ge=1, le=24 * 7, description="a session's longest life")
    link_requests_per_quarter_hour: int = Field(
        default=5, ge=1, description="sign-in links one address or one client may ask for"
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_from: str = "Young Trainers' School <workspace@yts.local>"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")
