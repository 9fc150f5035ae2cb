"""The rules of notifying, as pure functions: which events a subscription may ask for, which
URLs and addresses a webhook may go to, which contacts mail can carry, which outcome of an
attempt is worth retrying and when, and the stable ids a recipient can deduplicate on."""

from __future__ import annotations

import ipaddress
import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parsedate_to_datetime
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
# Named in refusals so that an operator knows what turns loopback webhooks on in development.
LOOPBACK_SETTING = "YTS_NOTIFICATIONS_ALLOW_INSECURE_LOOPBACK_WEBHOOKS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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
    """HTTPS to a public destination, or loopback (plain HTTP too) when development allows it.

    A DNS name passes here: what it resolves to can change, so the sender checks the addresses
    it resolves to at every connection (see ``address_kind``)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host:
        raise RuleBroken("url_scheme", "give an absolute https:// URL")
    if parts.username or parts.password:
        raise RuleBroken("url_credentials", "credentials do not belong in the URL")
    if parts.fragment:
        raise RuleBroken("url_fragment", "a webhook URL has no #fragment")
    try:
        parts.port  # noqa: B018 -- raises for a port out of range or not a number
    except ValueError:
        raise RuleBroken("url_port", "the port is not a number from 1 to 65535") from None
    kind = host_kind(host)
    if parts.scheme == "http":
        if kind != "loopback":
            raise RuleBroken("https_required", "webhooks are sent over https:// only")
        if not allow_insecure_loopback:
            raise RuleBroken(
                "https_required",
                "plain http:// is allowed only on loopback in development "
                f"({LOOPBACK_SETTING}=true)",
            )
    if refused(kind, allow_loopback=allow_insecure_loopback):
        if kind == "loopback":
            raise RuleBroken(
                "public_destination",
                f"{host} is this machine (loopback): allowed only in development, "
                f"with {LOOPBACK_SETTING}=true",
            )
        raise RuleBroken(
            "public_destination",
            f"{host} is not a public address ({kind}): webhooks go to public addresses only",
        )
    return url


def origin(url: str) -> str:
    """What concurrency is bounded per: one partner's server."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def webhook_id(event_id: str, subscription_id: uuid.UUID) -> str:
    """The Standard Webhooks ``webhook-id``: the same for every attempt of one event to one
    subscription, so a partner drops repeats."""
    return "msg_" + uuid.uuid5(WEBHOOK_NAMESPACE, f"{event_id}|{subscription_id}").hex


# -- webhook destinations -------------------------------------------------------------------


def refused(kind: str | None, *, allow_loopback: bool) -> bool:
    """Whether a webhook may not go to an address of ``kind`` (see ``address_kind``)."""
    return kind is not None and not (kind == "loopback" and allow_loopback)


def resolution_problem(
    host: str, addresses: Sequence[IPAddress], *, allow_loopback: bool
) -> str | None:
    """Why a webhook may not connect to ``host`` now that it resolved to ``addresses``, None
    when it may. Every address is checked: a connection may go to any of them."""
    for address in addresses:
        kind = address_kind(address)
        if refused(kind, allow_loopback=allow_loopback):
            return f"destination resolves to a non-public address: {host} is {address} ({kind})"
    return None


def host_kind(host: str) -> str | None:
    """What makes a URL's host unfit for a webhook, as ``address_kind`` says; None for a
    public address or a DNS name (checked on its addresses when sending)."""
    name = host.rstrip(".")
    # RFC 6761: localhost and its subdomains are this machine, whatever a resolver answers.
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    address = ip_literal(host)
    return None if address is None else address_kind(address)


def ip_literal(host: str) -> IPAddress | None:
    """The address a URL's host stands for by itself, None for a DNS name.

    Reads every form a resolver (inet_aton) and browsers (the WHATWG URL standard) read as an
    IPv4 address, not only dotted quads: ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and
    ``127.1`` are all 127.0.0.1. Otherwise a refused address slips through in another
    spelling."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot, as in a fully qualified name
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None  # a DNS name
        numbers.append(number)
    *leading, last = numbers
    # Each leading part is one byte; the last fills the bytes that remain (127.1 = 127.0.0.1).
    if any(number > 255 for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]+", part):
        return int(part, 8)
    if re.fullmatch(r"0|[1-9][0-9]*", part):
        return int(part)
    return None


# 64:ff9b::/96 (RFC 6052) reaches the IPv4 address in its last 32 bits through a NAT64 gateway.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_kind(address: IPAddress) -> str | None:
    """What makes ``address`` unfit for a webhook ("loopback", "private", "link-local"...),
    None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4-mapped address is the IPv4 address itself on a dual-stack socket.
        if address.ipv4_mapped is not None:
            return address_kind(address.ipv4_mapped)
        # 6to4 and NAT64 reach the IPv4 address they carry through a gateway: never this
        # machine, but a private address of the gateway's network all the same.
        tunnelled = address.sixtofour
        if tunnelled is None and address in _NAT64:
            tunnelled = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if tunnelled is not None:
            kind = address_kind(tunnelled)
            return None if kind is None else f"{kind}, through a gateway"
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "shared or special-purpose"  # e.g. 100.64.0.0/10, carrier-grade NAT
    return None


# -- mail to coordinators --------------------------------------------------------------------


def coordinator_address(name: str, email: str) -> Address:
    """The coordinator as a mail recipient. RuleBroken ``mail_address`` when mail cannot carry
    the address (``a..b@x.org``, ``a[b@x.org``...): enrolment's pattern lets such addresses
    through, and one of them must fail its own mail, not stop the sending of all others."""
    # Whitespace runs, line breaks included, become one space: a line break pasted into a name
    # cannot go into a header, and the name only serves to greet.
    display_name = " ".join(name.split())
    try:
        address = Address(display_name=display_name, addr_spec=email)
    except (ValueError, HeaderParseError) as error:  # header defects are ValueErrors
        raise RuleBroken("mail_address", f"not a valid mail address: {error}") from error
    if address.addr_spec != email:
        # Parentheses are a comment to the parser: "deputy(12)@x.org" would go to deputy@x.org.
        raise RuleBroken(
            "mail_address", f"not a valid mail address: mail would go to {address.addr_spec!r}"
        )
    return address


# -- retries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What an attempt's outcome means for the delivery."""

    # delivered | retry | failed | gone (the endpoint answered 410 Gone: disable it)
    outcome: str
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
    if status == 410:
        # Standard Webhooks: the endpoint is gone for good. Failing this one delivery would
        # leave every later one to fail in turn; the subscription is disabled instead.
        return Verdict("gone", result, http_status=status)
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


def destination_refused(reason: str) -> Verdict:
    """A destination that resolved to a non-public address: failed at once, never retried, and
    nothing connected, so the delivery log tells nothing of which internal ports answer."""
    return Verdict("failed", reason[:500], error=reason[:500])


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delay-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff(attempts: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds before the next mail attempt after ``attempts`` attempts: exponential, capped,
    with jitter so that many deliveries failing together do not come back together."""
    delay = min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, min(cap, retry_after))
    return delay


@dataclass(frozen=True)
class RetrySchedule:
    """When webhooks are tried again: ``delays[n - 1]`` seconds after the n-th attempt of a
    round asked for a retry, each varied by up to ``jitter`` (a fraction) either way so that
    the deliveries of a partner's outage do not all come back at once. A round is the
    delivery's first attempts, or those after a manual retry or a re-enabling."""

    delays: tuple[float, ...]
    jitter: float = 0.1

    @property
    def attempts(self) -> int:
        """Attempts in one round: the first, and one after each delay."""
        return len(self.delays) + 1

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt once attempt ``attempt`` of the round asked for a
        retry. A longer ``Retry-After`` is honoured, up to the schedule's longest step (a
        partner cannot park its deliveries for months)."""
        step = self.delays[min(max(attempt, 1), len(self.delays)) - 1]
        delay = step * random.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(self.delays)))
        return delay

    def span(self) -> tuple[float, float]:
        """The shortest and the longest time, in seconds, from a round's first attempt to its
        last, jitter included (Retry-After only makes it longer)."""
        total = sum(self.delays)
        return total * (1 - self.jitter), total * (1 + self.jitter)


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
