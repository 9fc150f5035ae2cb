from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, PositiveInt, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from yts_chassis.settings import ServiceSettings, TimeZoneName

CURRICULUM = Path(__file__).parent / "curriculum.toml"


class MilestoneThresholds(BaseModel):
    """The count at which each milestone kind is reached. The kinds keep their public names
    (``trainer.sessions.5``); programme staff may move a threshold, e.g. for a pilot year.
    ``trainer.certified`` follows the curriculum (every core module) and the two
    ``first_session`` kinds are reached at 1."""

    trainer_sessions_5: PositiveInt = Field(
        default=5, description="peer sessions a trainer facilitated for trainer.sessions.5"
    )
    trainer_peers_100: PositiveInt = Field(
        default=100,
        description="peer participations in a trainer's sessions for trainer.peers.100",
    )
    school_sessions_20: PositiveInt = Field(
        default=20, description="peer sessions of a school for school.sessions.20"
    )
    programme_peers_1000: PositiveInt = Field(
        default=1000, description="peer participations, whole programme: programme.peers.1000"
    )
    programme_peers_5000: PositiveInt = Field(
        default=5000, description="peer participations, whole programme: programme.peers.5000"
    )
    programme_peers_10000: PositiveInt = Field(
        default=10_000, description="peer participations, whole programme: programme.peers.10000"
    )

    @model_validator(mode="after")
    def _programme_thresholds_ascend(self) -> Self:
        steps = (self.programme_peers_1000, self.programme_peers_5000, self.programme_peers_10000)
        if not steps[0] < steps[1] < steps[2]:
            raise ValueError("programme_peers_1000 < programme_peers_5000 < programme_peers_10000")
        return self


class SessionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="YTS_SESSIONS_")

    service_name: str = "sessions"
    database_url: str = "sqlite+aiosqlite:///./.state/sessions.db"
    curriculum_file: Path = Field(
        default=CURRICULUM,
        description="TOML file of the curriculum modules (ids and names in kk, ru and en)",
    )
    milestones: MilestoneThresholds = Field(default_factory=MilestoneThresholds)
    timezone: TimeZoneName = Field(
        default="Asia/Almaty",
        description="the programme's calendar: what 'today' means for dates of sessions",
    )

    @field_validator("curriculum_file")
    @classmethod
    def _curriculum_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"no curriculum file at {value}")
        return value
