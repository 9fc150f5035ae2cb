"""The rules of notifying, without I/O: which filters and URLs a subscription may have, which
outcome of an attempt is retried and when, when a weekly summary is due, and that every mail
renders in every locale with both parts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from yts_notifications.domain import (
    IsoWeek,
    RuleBroken,
    backoff,
    check_event_type_filter,
    check_webhook_url,
    http_verdict,
    origin,
    smtp_verdict,
    summary_due,
    summary_id,
    wants,
    webhook_id,
)
from yts_notifications.mail import LOCALES, MailTemplates
from yts_notifications.store import MailMessage

ALMATY = ZoneInfo("Asia/Almaty")


@pytest.mark.parametrize(
    "pattern",
    [
        "yts.milestones.>",
        "yts.enrolment.>",
        "yts.sessions.session.*.v1",
        "yts.enrolment.trainer.enrolled.v1",
    ],
)
def test_filters_over_public_events_are_accepted(pattern: str) -> None:
    assert check_event_type_filter(pattern) == pattern


@pytest.mark.parametrize(
    "pattern", ["yts.*.>", "yts.*.enrolment.school.contact.v1", "*.private.>", ">"]
)
def test_filters_that_could_reach_the_private_stream_are_refused(pattern: str) -> None:
    with pytest.raises(RuleBroken) as broken:
        check_event_type_filter(pattern)
    assert broken.value.rule == "public_events_only"


def test_wildcards_match_as_nats_subjects_do() -> None:
    assert wants(["yts.sessions.session.*.v1"], "yts.sessions.session.completed.v1")
    assert not wants(["yts.sessions.session.*.v1"], "yts.sessions.module.completed.v1")
    assert wants(["yts.milestones.>"], "yts.milestones.milestone.reached.v1")
    assert not wants(["yts.milestones.>"], "yts.enrolment.trainer.enrolled.v1")
    assert not wants(["yts.enrolment.>"], "yts.private.enrolment.school.contact.v1")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://partner.example.org/hooks", True),
        ("http://127.0.0.1:8080/hooks", True),
        ("http://localhost/hooks", True),
        ("http://[::1]:9000/hooks", True),
        ("http://10.0.0.7/hooks", False),
        ("http://partner.example.org/hooks", False),
    ],
)
def test_plain_http_is_allowed_only_on_loopback_and_only_when_development_allows(
    url: str, allowed: bool
) -> None:
    if allowed:
        assert check_webhook_url(url, allow_insecure_loopback=True) == url
    else:
        with pytest.raises(RuleBroken, match="https"):
            check_webhook_url(url, allow_insecure_loopback=True)
    if url.startswith("http://"):
        with pytest.raises(RuleBroken) as broken:
            check_webhook_url(url, allow_insecure_loopback=False)
        assert broken.value.rule == "https_required"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (301, "failed"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "failed"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
    ],
)
def test_only_server_errors_timeouts_and_throttling_are_retried(status: int, outcome: str) -> None:
    verdict = http_verdict(status, "Reason")
    assert verdict.outcome == outcome
    assert verdict.http_status == status


@pytest.mark.parametrize(
    ("code", "outcome"), [(250, "delivered"), (421, "retry"), (451, "retry"), (550, "failed")]
)
def test_smtp_replies_are_retried_when_temporary(code: int, outcome: str) -> None:
    assert smtp_verdict(code, "text").outcome == outcome


def test_backoff_doubles_with_jitter_up_to_its_cap_and_honours_retry_after() -> None:
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (10, 300)):
        for _ in range(50):
            delay = backoff(attempts, base=10, cap=300)
            assert ceiling / 2 <= delay <= ceiling
    assert backoff(1, base=10, cap=300, retry_after=120) >= 120
    assert backoff(1, base=10, cap=300, retry_after=10_000) <= 300


def test_webhook_id_is_the_same_for_one_event_and_subscription_only() -> None:
    event, subscription = str(uuid.uuid4()), uuid.uuid4()
    assert webhook_id(event, subscription) == webhook_id(event, subscription)
    assert webhook_id(event, subscription) != webhook_id(event, uuid.uuid4())
    assert webhook_id(event, subscription) != webhook_id(str(uuid.uuid4()), subscription)
    assert origin("https://A.example.org/x?y=1") == "https://a.example.org:443"
    assert origin("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("local_time", "due"),
    [
        (datetime(2026, 3, 9, 7, 59, tzinfo=ALMATY), "2026-W09"),  # Monday, before 08:00
        (datetime(2026, 3, 9, 8, 0, tzinfo=ALMATY), "2026-W10"),
        (datetime(2026, 3, 11, 15, 0, tzinfo=ALMATY), "2026-W10"),
        (datetime(2026, 3, 15, 23, 59, tzinfo=ALMATY), "2026-W10"),  # Sunday
        (datetime(2027, 1, 4, 9, 0, tzinfo=ALMATY), "2026-W53"),
    ],
)
def test_the_summary_of_the_last_complete_week_is_due_from_monday_at_eight_almaty_time(
    local_time: datetime, due: str
) -> None:
    # Before this week's sending hour, the week before last stays due (a service that was down
    # then still sends it); planning is idempotent, so nothing goes twice.
    assert summary_due(local_time.astimezone(UTC), ALMATY, weekday=1, hour=8).label == due
    school = uuid.uuid4()
    assert summary_id(school, IsoWeek(2026, 10)) == summary_id(school, IsoWeek.parse("2026-W10"))
    # One summary per school and week: another week or another school is another summary.
    assert summary_id(school, IsoWeek(2026, 10)) != summary_id(school, IsoWeek(2026, 11))
    assert summary_id(school, IsoWeek(2026, 10)) != summary_id(uuid.uuid4(), IsoWeek(2026, 10))


def _context(message: MailMessage) -> dict[str, Any]:
    context: dict[str, Any] = {
        "coordinator_name": "Aigerim Sadykova",
        "school_name": "School-Lyceum No. 134 & <Co>",
    }
    trainer = {"grade": 10, "enrolled_on": "2026-09-14", "reference": str(uuid.uuid4())}
    if message is MailMessage.trainer_enrolled:
        context["trainer"] = trainer
    elif message is MailMessage.trainer_certified:
        context.update(trainer=trainer, certified_on="2026-11-02")
    elif message is MailMessage.school_milestone:
        context["milestone"] = {
            "kind": "school.first_session",
            "reached_on": "2026-10-01",
            "evidence": [("sessions_delivered", 1)],
        }
    else:
        context.update(
            week={"label": "2026-W10", "first_day": "2026-03-02", "last_day": "2026-03-08"},
            totals={"completed": 1, "cancelled": 0, "participants": 20, "average_rating": None},
            sessions=[
                {
                    "delivered_on": "2026-03-03",
                    "topic": "intercultural-dialogue-basics",
                    "language": "kk",
                    "participants": 20,
                    "duration_minutes": 45,
                }
            ],
        )
    return context


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("message", list(MailMessage))
def test_every_mail_renders_in_every_locale_with_a_subject_a_text_and_an_html_part(
    message: MailMessage, locale: str
) -> None:
    rendered = MailTemplates().render(message, locale, _context(message))
    assert rendered.locale == locale
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert rendered.text.startswith({"kk": "Құрметті", "ru": "Здравствуйте", "en": "Dear"}[locale])
    assert "Aigerim Sadykova" in rendered.text
    assert "<" not in rendered.text.replace("<Co>", "")  # plain text, no markup
    assert rendered.html.startswith(f'<!doctype html>\n<html lang="{locale}">')
    assert "School-Lyceum No. 134 &amp; &lt;Co&gt;" in rendered.html
    assert "&lt;Co&gt;" not in rendered.text
