from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from yts_chassis.settings import ServiceSettings


class SessionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="YTS_SESSIONS_", env_nested_delimiter="__", extra="ignore", env_file=".env"
    )

    service_name: str = "sessions"
    database_url: str = "sqlite+aiosqlite:///./.state/sessions.db"
