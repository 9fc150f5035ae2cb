from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from yts_chassis.settings import ServiceSettings


class EnrolmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="YTS_ENROLMENT_")

    service_name: str = "enrolment"
    database_url: str = "sqlite+aiosqlite:///./.state/enrolment.db"
