from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from yts_chassis.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="YTS_NOTIFICATIONS_", env_nested_delimiter="__", extra="ignore", env_file=".env"
    )

    service_name: str = "notifications"
    database_url: str = "sqlite+aiosqlite:///./.state/notifications.db"
