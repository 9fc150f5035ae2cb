"""The rules of notifying, without I/O: which filters and URLs a subscription may have, which
addresses a webhook may go to, which contacts mail can carry, which outcome of an attempt is
retried and when, when a weekly summary is due, and that every mail renders in every locale
with both parts."""

from __future__ import annotations

import ipaddress
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from yts_notifications.domain import (
    LOOPBACK_SETTING,
    IsoWeek,
    RetrySchedule,
    RuleBroken,
    address_kind,
    backoff,
    check_event_type_filter,
    check_webhook_url,
    coordinator_address,
    http_verdict,
    ip_literal,
    origin,
    parse_retry_after,
    resolution_problem,
    smtp_verdict,
    summary_due,
    summary_id,
    wants,
    webhook_id,
)
from yts_notifications.i18n import LOCALES
from yts_notifications.mail import MailTemplates
from yts_notifications.settings import NotificationsSettings
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
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one integer
        ("0x7f000001", "127.0.0.1"),  # hexadecimal
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("127.1", "127.0.0.1"),  # short: the last part fills the bytes left
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("127.0.0.1.", "127.0.0.1"),  # a trailing dot, as in a fully qualified name
        ("::1", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("fe80::1%25eth0", "fe80::1%25eth0"),
    ],
)
def test_every_spelling_a_resolver_reads_as_an_address_is_read_as_that_address(
    host: str, address: str
) -> None:
    assert ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "host", ["partner.example.org", "1e100.net", "256.0.0.1", "1.2.3.4.5", "08.1", "0x7g.1", ""]
)
def test_names_that_are_no_address_are_left_to_the_resolver(host: str) -> None:
    assert ip_literal(host) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("2002:808:808::1", None),  # 6to4 of a public address
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: 127.0.0.1 itself
        ("::ffff:10.0.0.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "shared or special-purpose"),  # carrier-grade NAT
        ("2002:7f00:1::", "loopback, through a gateway"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private, through a gateway"),  # NAT64 of 10.0.0.1
    ],
)
def test_only_public_addresses_are_fit_for_webhooks(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("url", "allowed_in_development"),
    [
        ("https://127.0.0.1:8443/hooks", True),
        ("https://localhost/hooks", True),
        ("https://hooks.localhost./hooks", True),
        ("https://[::1]/hooks", True),
        ("https://2130706433/hooks", True),
        ("https://0x7f000001/hooks", True),
        ("https://127.1/hooks", True),
        ("https://[::ffff:127.0.0.1]/hooks", True),
        ("https://169.254.169.254/latest/meta-data/", False),
        ("https://0.0.0.0/hooks", False),
        ("https://10.1/hooks", False),
        ("https://[64:ff9b::7f00:1]/hooks", False),
    ],
)
def test_urls_naming_a_non_public_address_are_refused_and_loopback_names_the_setting(
    url: str, allowed_in_development: bool
) -> None:
    with pytest.raises(RuleBroken) as broken:
        check_webhook_url(url, allow_insecure_loopback=False)
    assert broken.value.rule == "public_destination"
    assert (LOOPBACK_SETTING in broken.value.message) == allowed_in_development
    if allowed_in_development:
        assert check_webhook_url(url, allow_insecure_loopback=True) == url
    else:
        with pytest.raises(RuleBroken, match="public addresses only"):
            check_webhook_url(url, allow_insecure_loopback=True)


def test_the_setting_named_in_refusals_is_the_one_that_allows_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LOOPBACK_SETTING, "true")
    assert NotificationsSettings(admin_token="x").allow_insecure_loopback_webhooks


def test_a_dns_name_passes_at_subscription_and_is_judged_on_every_address_it_resolves_to() -> None:
    url = "https://partner.example.org/hooks"
    assert check_webhook_url(url, allow_insecure_loopback=False) == url
    public, loopback, private = (ipaddress.ip_address(a) for a in ("8.8.8.8", "::1", "10.9.8.7"))
    host = "partner.example.org"
    assert resolution_problem(host, [public], allow_loopback=False) is None
    assert resolution_problem(host, [public, loopback], allow_loopback=False) == (
        "destination resolves to a non-public address: partner.example.org is ::1 (loopback)"
    )
    assert resolution_problem(host, [loopback], allow_loopback=True) is None
    assert "10.9.8.7 (private)" in str(
        resolution_problem(host, [loopback, private], allow_loopback=True)
    )


def test_a_url_with_a_port_out_of_range_is_refused() -> None:
    with pytest.raises(RuleBroken) as broken:
        check_webhook_url("https://partner.example.org:99999/", allow_insecure_loopback=False)
    assert broken.value.rule == "url_port"


@pytest.mark.parametrize(
    "email",
    ["zzq..x@example.org", "deputy[12]@example.org", "deputy(12)@example.org", ".a@example.org"],
)
def test_an_address_mail_cannot_carry_is_a_broken_rule_not_a_crash(email: str) -> None:
    with pytest.raises(RuleBroken) as broken:
        coordinator_address("Aigerim Sadykova", email)
    assert broken.value.rule == "mail_address"
    assert broken.value.message.startswith("not a valid mail address: ")


def test_line_breaks_in_a_coordinators_name_become_spaces() -> None:
    to = coordinator_address("Aigerim\r\nSadykova\nBcc: someone@example.org", "d@example.org")
    assert to.display_name == "Aigerim Sadykova Bcc: someone@example.org"
    assert to.addr_spec == "d@example.org"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (301, "failed"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "gone"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
    ],
)
def test_only_server_errors_timeouts_and_throttling_are_retried_and_410_means_gone(
    status: int, outcome: str
) -> None:
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


def attempt_times(schedule: RetrySchedule) -> list[float]:
    """Seconds from the first attempt to each attempt of a round that never succeeds."""
    times = [0.0]
    for attempt in range(1, schedule.attempts):
        times.append(times[-1] + schedule.delay(attempt))
    return times


DAY = 86400.0


def test_webhooks_are_retried_for_at_least_three_days_so_a_weekend_outage_loses_nothing() -> None:
    schedule = NotificationsSettings().webhook_retries
    shortest, longest = schedule.span()
    assert shortest >= 3 * DAY
    assert longest <= 4.5 * DAY
    # Friday 18:00 to Monday 09:00 is 63 hours: an event that met the start of the outage is
    # still tried on Monday, whatever the jitter.
    weekend = 63 * 3600.0
    for _ in range(200):
        times = attempt_times(schedule)
        assert times[-1] >= 3 * DAY > weekend
        # The first retries come soon (a blip costs seconds, not hours); Standard Webhooks'
        # steps: 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h.
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        for gap, step in zip(gaps, [5, 300, 1800, 7200, 18000] + [36000] * 8, strict=True):
            assert step * 0.9 <= gap <= step * 1.1
    assert schedule.attempts == 14


def test_webhook_delays_vary_a_little_and_honour_a_longer_retry_after_up_to_the_longest_step() -> (
    None
):
    schedule = RetrySchedule((5.0, 300.0, 36000.0), jitter=0.1)
    delays = {round(schedule.delay(2), 3) for _ in range(50)}
    assert len(delays) > 1  # jitter: deliveries failing together do not come back together
    assert all(270 <= delay <= 330 for delay in delays)
    assert schedule.delay(1, retry_after=120) >= 120  # longer than the step: honoured
    assert schedule.delay(2, retry_after=1) >= 270  # shorter than the step: the step
    assert schedule.delay(1, retry_after=30 * DAY) == 36000  # never beyond the longest step
    assert 32400 <= schedule.delay(99) <= 39600  # past the end of a round: the last step


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Mon, 09 Mar 2026 12:30:00 GMT", now) == 1800
    assert parse_retry_after("Mon, 09 Mar 2026 11:00:00 GMT", now) == 0  # already past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_mail_keeps_its_own_shorter_retries() -> None:
    settings = NotificationsSettings()
    assert settings.max_attempts("mail") == settings.mail_max_attempts == 8
    assert settings.max_attempts("webhook") == 14


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
                    "topic": "intercultural-communication",
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
