from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict
from yts_chassis.settings import ServiceSettings, TimeZoneName


class ProgrammeTargets(BaseModel):
    """The programme's targets for 2023-2025 (one value for the whole programme). Override one
    with e.g. ``YTS_REPORTING_TARGETS__SESSIONS_DELIVERED=1800``; 0 means "no target"."""

    schools_participating: int = Field(default=35, ge=0, description="schools of Almaty")
    trainers_enrolled: int = Field(default=350, ge=0, description="about 10 per school")
    trainers_certified: int = Field(default=250, ge=0, description="every core module done")
    trainers_active: int = Field(default=200, ge=0, description="ran at least one session")
    trainers_withdrawn: int = Field(default=0, ge=0, description="not a goal: no target")
    sessions_delivered: int = Field(default=1500, ge=0, description="peer sessions")
    peer_participations: int = Field(default=10_000, ge=0, description="participations")
    average_rating: float = Field(default=4.0, ge=0, le=5, description="feedback, 1 to 5")
    milestones_reached: int = Field(default=0, ge=0, description="no target by default")


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="YTS_REPORTING_")

    service_name: str = "reporting"
    database_url: str = "sqlite+aiosqlite:///./.state/reporting.db"
    projection_batch_size: int = Field(
        default=500, ge=1, le=5000, description="events applied per transaction"
    )
    projection_batch_wait_seconds: float = Field(
        default=0.2, gt=0, le=5, description="longest wait to fill a batch (adds latency)"
    )
    targets: ProgrammeTargets = Field(default_factory=ProgrammeTargets)
    programme_timezone: TimeZoneName = Field(
        default="Asia/Almaty",
        description="time zone in which a moment (enrolled_at, reached_at...) becomes a day",
    )
    rebuild_batch_size: int = Field(
        default=1000, ge=1, le=10_000, description="events per transaction during a rebuild"
    )
    rebuild_retire_after_seconds: float = Field(
        default=10.0,
        ge=0,
        description="after a switch-over, how long the previous generation stays for requests "
        "already reading it before its rows are deleted",
    )
    dashboard_cookie_secure: bool | None = Field(
        default=None,
        description="mark the dashboard's session cookie Secure; default: when served over https",
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.programme_timezone)
