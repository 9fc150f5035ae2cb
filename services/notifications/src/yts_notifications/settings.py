from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from zoneinfo import ZoneInfo

from pydantic import Field, PositiveFloat, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from yts_chassis.settings import ServiceSettings, TimeZoneName

from yts_notifications.curriculum import CURRICULUM
from yts_notifications.domain import RetrySchedule

# Standard Webhooks' example schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h...), held at 10 h
# until the last attempt is at least three days after the first, jitter included.
WEBHOOK_RETRY_SCHEDULE = [5.0, 300.0, 1800.0, 7200.0, 18000.0] + [36000.0] * 8


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="YTS_NOTIFICATIONS_")

    service_name: str = "notifications"
    database_url: str = "sqlite+aiosqlite:///./.state/notifications.db"

    # -- mail ----------------------------------------------------------------------------------
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server (Mailpit locally)")
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none",
        description="none (plain, loopback or Mailpit only), starttls (submission, 587) or "
        "tls (implicit TLS, 465)",
    )
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_sender: str = Field(
        default="Young Trainers' School <no-reply@yts.example.org>",
        description="From header of every mail",
    )
    mail_concurrency: int = Field(default=4, ge=1, le=100, description="SMTP sends at once")
    curriculum_file: Path = Field(
        default=CURRICULUM,
        description="TOML file of the curriculum modules' titles in kk, ru and en (the "
        "sessions service's format), for the weekly summaries; the default is a copy of the "
        "sessions service's own. Give it the file YTS_SESSIONS_CURRICULUM_FILE names, if set",
    )

    # -- webhooks ------------------------------------------------------------------------------
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a whole webhook attempt, connect to last byte"
    )
    webhook_concurrency_per_destination: int = Field(
        default=4, ge=1, le=100, description="requests in flight to one partner origin"
    )
    allow_insecure_loopback_webhooks: bool = Field(
        default=False,
        description="development only: webhooks may go to this machine (loopback: 127.0.0.1, "
        "localhost, ::1), over plain http:// too; other non-public addresses stay refused",
    )

    # -- retries: mail and webhooks each have their own ------------------------------------
    mail_max_attempts: int = Field(
        default=8, ge=1, le=50, description="attempts of one mail before it is marked failed"
    )
    mail_backoff_base_seconds: float = Field(
        default=10.0, gt=0, description="delay before a mail's second attempt; doubles each time"
    )
    mail_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_schedule_seconds: list[PositiveFloat] = Field(
        default=WEBHOOK_RETRY_SCHEDULE,
        min_length=1,
        max_length=50,
        description="seconds between a webhook's attempts, one per retry: the default (after "
        "5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h) tries 14 times over about three and a "
        "half days, so that a partner's weekend outage loses nothing; JSON list, e.g. "
        "[5, 300, 1800]",
    )
    webhook_retry_jitter: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="each webhook delay varies by up to this fraction either way",
    )
    delivery_poll_seconds: float = Field(
        default=1.0, gt=0, description="safety-net poll; new deliveries wake the engine at once"
    )
    delivery_batch_size: int = Field(default=100, ge=1, le=1000)
    delivery_lease_margin_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a delivery marked 'sending' by a replica that died is taken over after "
        "the attempt's timeout plus this margin",
    )
    recipient_recheck_seconds: float = Field(
        default=300.0,
        gt=0,
        description="how often a mail waiting for its school's contact is looked at again "
        "(the contact's arrival wakes it at once)",
    )

    # -- the weekly summary --------------------------------------------------------------------
    summary_weekday: int = Field(default=1, ge=1, le=7, description="ISO weekday: 1 = Monday")
    summary_hour: int = Field(default=8, ge=0, le=23, description="local hour of sending")
    summary_timezone: TimeZoneName = Field(default="Asia/Almaty")
    summary_check_seconds: float = Field(
        default=300.0, gt=0, description="how often due summaries are planned"
    )

    @model_validator(mode="after")
    def _backoff_bounds(self) -> Self:
        if self.mail_backoff_max_seconds < self.mail_backoff_base_seconds:
            raise ValueError("mail_backoff_max_seconds is below mail_backoff_base_seconds")
        return self

    @property
    def webhook_retries(self) -> RetrySchedule:
        return RetrySchedule(tuple(self.webhook_retry_schedule_seconds), self.webhook_retry_jitter)

    def max_attempts(self, channel: str) -> int:
        """Attempts in one round of a delivery of ``channel`` (mail or webhook)."""
        return self.webhook_retries.attempts if channel == "webhook" else self.mail_max_attempts

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.summary_timezone)
