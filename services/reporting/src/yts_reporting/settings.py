from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from yts_chassis.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="YTS_REPORTING_", env_nested_delimiter="__", extra="ignore", env_file=".env"
    )

    service_name: str = "reporting"
    database_url: str = "sqlite+aiosqlite:///./.state/reporting.db"
    projection_batch_size: int = Field(
        default=500, ge=1, le=5000, description="events applied per transaction"
    )
    projection_batch_wait_seconds: float = Field(
        default=0.1, gt=0, le=5, description="longest wait to fill a batch (adds latency)"
    )
