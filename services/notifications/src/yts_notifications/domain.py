"""The rules of notifying, as pure functions: which events a subscription may ask for, which
URLs are acceptable, which outcome of an attempt is worth retrying and when, and the stable ids
a recipient can deduplicate on."""

from __future__ import annotations

import ipaddress
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from yts_contracts.catalog import CATALOG
from yts_contracts.milestones import MilestoneKind
from yts_contracts.streams import STREAMS, subject_matches

# Fixed forever: partners deduplicate on ids derived from them.
WEBHOOK_NAMESPACE = uuid.UUID("5b0c6f0e-52a4-4f57-9d55-2f6a4f0f6a8e")
SUMMARY_NAMESPACE = uuid.UUID("0f1e7a55-7a83-4c40-9b52-8f0b7d3c1c11")

PUBLIC_TYPES: tuple[str, ...] = tuple(CATALOG.public())
# The first two tokens of every subject a partner may read ("yts.enrolment", ...).
PUBLIC_PREFIXES: tuple[str, ...] = tuple(
    ".".join(pattern.split(".")[:2])
    for stream in STREAMS
    if stream.public
    for pattern in stream.subjects
)
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}

MILESTONE_MAIL_KINDS = {
    MilestoneKind.SCHOOL_FIRST_SESSION,
    MilestoneKind.SCHOOL_SESSIONS_20,
}


# -- subscriptions ----------------------------------------------------------------------------


class RuleBroken(ValueError):
    """Bad input: ``rule`` names the rule for the problem+json answer."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def check_event_type_filter(pattern: str) -> str:
    """A filter is a NATS subject pattern (``*`` one token, a final ``>`` the rest) inside the
    public streams that matches at least one published event type."""
    tokens = pattern.split(".")
    if not pattern or any(token == "" for token in tokens):
        raise RuleBroken("subject_syntax", f"{pattern!r} is not a subject pattern")
    for index, token in enumerate(tokens):
        if token == ">" and index != len(tokens) - 1:
            raise RuleBroken("subject_syntax", f"{pattern!r}: '>' may only end a pattern")
        if token not in {"*", ">"} and ("*" in token or ">" in token or " " in token):
            raise RuleBroken("subject_syntax", f"{pattern!r}: a wildcard stands alone between dots")
    if ".".join(tokens[:2]) not in PUBLIC_PREFIXES:
        allowed = ", ".join(f"{prefix}.>" for prefix in PUBLIC_PREFIXES)
        raise RuleBroken(
            "public_events_only",
            f"{pattern!r} reaches beyond the public events; start with one of {allowed}",
        )
    if not any(subject_matches(pattern, event_type) for event_type in PUBLIC_TYPES):
        hint = ""
        if tokens[-1] == "*":
            hint = f" ('*' stands for exactly one token: did you mean {'.'.join(tokens[:-1])}.>?)"
        raise RuleBroken("matches_no_event", f"{pattern!r} matches no published event{hint}")
    return pattern


def wants(event_types: list[str], event_type: str) -> bool:
    return any(subject_matches(pattern, event_type) for pattern in event_types)


def check_webhook_url(url: str, *, allow_insecure_loopback: bool) -> str:
    """HTTPS, or plain HTTP on this machine's loopback when development allows it."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host:
        raise RuleBroken("url_scheme", "give an absolute https:// URL")
    if parts.username or parts.password:
        raise RuleBroken("url_credentials", "credentials do not belong in the URL")
    if parts.fragment:
        raise RuleBroken("url_fragment", "a webhook URL has no #fragment")
    if parts.scheme == "http":
        if not is_loopback(host):
            raise RuleBroken("https_required", "webhooks are sent over https:// only")
        if not allow_insecure_loopback:
            raise RuleBroken(
                "https_required",
                "plain http:// is allowed only on loopback in development "
                "(allow_insecure_loopback_webhooks is off)",
            )
    return url


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin(url: str) -> str:
    """What concurrency is bounded per: one partner's server."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def webhook_id(event_id: str, subscription_id: uuid.UUID) -> str:
    """The Standard Webhooks ``webhook-id``: the same for every attempt of one event to one
    subscription, so a partner drops repeats."""
    return "msg_" + uuid.uuid5(WEBHOOK_NAMESPACE, f"{event_id}|{subscription_id}").hex


# -- retries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What an attempt's outcome means for the delivery."""

    outcome: str  # delivered | retry | failed
    result: str  # for people: the HTTP status or SMTP reply, or the error
    retry_after: float | None = None
    http_status: int | None = None
    smtp_reply: str | None = None
    error: str | None = None


def http_verdict(status: int, reason: str, retry_after: float | None = None) -> Verdict:
    result = f"HTTP {status} {reason}".strip()
    if 200 <= status < 300:
        return Verdict("delivered", result, http_status=status)
    if status >= 500 or status in {408, 429}:
        return Verdict("retry", result, retry_after, http_status=status)
    # Redirects are not followed (the signed body would go somewhere else) and other 4xx
    # mean the request itself is refused: repeating it cannot help.
    return Verdict("failed", result, http_status=status)


def smtp_verdict(code: int, reply: str) -> Verdict:
    result = f"{code} {reply}".strip()[:500]
    if 200 <= code < 400:
        return Verdict("delivered", result, smtp_reply=result)
    if 400 <= code < 500:
        return Verdict("retry", result, smtp_reply=result)
    return Verdict("failed", result, smtp_reply=result)


def unreachable(error: str) -> Verdict:
    """A timeout or a connection that failed: worth another try later."""
    return Verdict("retry", error[:500], error=error[:500])


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the exponential delay is used instead


def backoff(attempts: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` attempts: exponential, capped, with
    jitter so that many deliveries failing together do not come back together."""
    delay = min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, min(cap, retry_after))
    return delay


# -- weekly summaries -------------------------------------------------------------------------


@dataclass(frozen=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def first_day(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def last_day(self) -> date:
        return date.fromisocalendar(self.year, self.week, 7)

    @classmethod
    def parse(cls, label: str) -> IsoWeek:
        year, week = label.split("-W")
        return cls(int(year), int(week))


def summary_due(now: datetime, zone: ZoneInfo, weekday: int, hour: int) -> IsoWeek:
    """The week whose summary is due at ``now``: the last complete ISO week once this week's
    sending moment (weekday and hour, local time) has passed, the week before until then (so
    that a service down at the sending moment still sends it when it is back)."""
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.isoweekday() - 1)
    sending_day = monday + timedelta(days=weekday - 1)
    if (local.date(), local.hour) < (sending_day, hour):
        return IsoWeek.of(monday - timedelta(days=8))
    return IsoWeek.of(monday - timedelta(days=1))


def summary_id(school_id: uuid.UUID, week: IsoWeek) -> str:
    """The idempotency key of a school's summary of one week."""
    return str(uuid.uuid5(SUMMARY_NAMESPACE, f"{school_id}|{week.label}"))
