from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import SettingsConfigDict
from yts_chassis.settings import ServiceSettings, TimeZoneName
from yts_contracts.vocabulary import District


class ProgrammeTargets(BaseModel):
    """The programme's targets (one value for the whole programme, over its whole length).
    Override one with e.g. ``YTS_REPORTING_TARGETS__SESSIONS_DELIVERED=1800``; 0 means "no
    target". ``schools_participating`` is also the number of schools the other targets are
    shared among (see ``SchoolTargets``)."""

    schools_participating: int = Field(default=35, ge=0, description="schools of Almaty")
    trainers_enrolled: int = Field(default=350, ge=0, description="about 10 per school")
    trainers_certified: int = Field(default=250, ge=0, description="every core module done")
    trainers_active: int = Field(default=200, ge=0, description="ran at least one session")
    trainers_withdrawn: int = Field(default=0, ge=0, description="not a goal: no target")
    sessions_delivered: int = Field(default=1500, ge=0, description="peer sessions")
    peer_participations: int = Field(default=10_000, ge=0, description="participations")
    average_rating: float = Field(default=4.0, ge=0, le=5, description="feedback, 1 to 5")
    milestones_reached: int = Field(default=0, ge=0, description="no target by default")


class SchoolTargets(BaseModel):
    """One school's targets, the same for every school. Unset (the default): the programme's
    target divided by its number of schools (``targets.schools_participating``, else the
    schools known to reporting), rounded up; the average rating keeps the programme's target.
    Set one with e.g. ``YTS_REPORTING_SCHOOL_TARGETS__SESSIONS_DELIVERED=40``; 0: no target."""

    trainers_enrolled: int | None = Field(default=None, ge=0)
    trainers_certified: int | None = Field(default=None, ge=0)
    trainers_active: int | None = Field(default=None, ge=0)
    trainers_withdrawn: int | None = Field(default=None, ge=0)
    sessions_delivered: int | None = Field(default=None, ge=0)
    peer_participations: int | None = Field(default=None, ge=0)
    average_rating: float | None = Field(default=None, ge=0, le=5)
    milestones_reached: int | None = Field(default=None, ge=0)


class DistrictTargets(SchoolTargets):
    """One district's targets. Unset (the default): the sum of its schools' targets (schools
    participating: its number of schools). Set with e.g.
    ``YTS_REPORTING_DISTRICT_TARGETS__BOSTANDYK__SESSIONS_DELIVERED=300`` or
    ``YTS_REPORTING_DISTRICT_TARGETS='{"Bostandyk": {"sessions_delivered": 300}}'``."""

    schools_participating: int | None = Field(default=None, ge=0)


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="YTS_REPORTING_")

    service_name: str = "reporting"
    database_url: str = "sqlite+aiosqlite:///./.state/reporting.db"
    projection_batch_size: int = Field(
        default=500, ge=1, le=5000, description="events applied per transaction"
    )
    projection_batch_wait_seconds: float = Field(
        default=0.2,
        gt=0,
        le=5,
        description="how long one pull waits for a first event when none is pending (a batch "
        "never waits to fill: a fetch brings what is pending at once)",
    )
    targets: ProgrammeTargets = Field(default_factory=ProgrammeTargets)
    school_targets: SchoolTargets = Field(
        default_factory=SchoolTargets,
        description="a school's targets, compared with one school's view; unset: a share of "
        "the programme's",
    )
    district_targets: dict[District, DistrictTargets] = Field(
        default_factory=dict,
        description="a district's targets by district; unset: the sum of its schools'",
    )
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

    @field_validator("district_targets", mode="before")
    @classmethod
    def _district_names(cls, value: Any) -> Any:
        """Environment variable names arrive lower-cased (``..._TARGETS__BOSTANDYK__...``):
        match the district whatever its case."""
        if not isinstance(value, dict):
            return value
        names = {d.value.lower(): d.value for d in District}
        return {names.get(str(k).lower(), k): v for k, v in value.items()}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.programme_timezone)
