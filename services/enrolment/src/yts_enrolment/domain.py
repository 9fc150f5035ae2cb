"""The enrolment rules: pure functions and value types, no I/O."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from enum import StrEnum
from zoneinfo import ZoneInfo

from yts_contracts.enrolment import WithdrawalReason
from yts_contracts.vocabulary import District, Gender

__all__ = [
    "CONSENT_REACH_YEARS",
    "GRADES",
    "PROGRAMME_TIMEZONE",
    "DateRule",
    "District",
    "Gender",
    "Locale",
    "TrainerStatus",
    "WithdrawalReason",
    "cohort_accepts_enrolment",
    "cohort_name_matches_dates",
    "earliest_consent_for",
    "enrolled_on_breach",
    "mail_address_problem",
    "mail_display_name_problem",
    "one_line_text_problem",
    "person_key",
    "programme_day",
    "withdrawn_on_breach",
]


class Locale(StrEnum):
    """Language a coordinator reads mail in."""

    kk = "kk"
    ru = "ru"
    en = "en"


class TrainerStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


GRADES = (9, 10, 11)


def person_key(school_id: object, first_name: str, last_name: str, grade: int) -> str:
    """Identity of a person for the one-active-enrolment-per-cohort rule: same school, names
    and grade, ignoring case, accents' composed forms and spacing. Only a hash is kept."""
    parts = [_fold(first_name), _fold(last_name), str(grade), str(school_id)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def cohort_accepts_enrolment(open_for_enrolment: bool, ends_on: date, enrolled_on: date) -> bool:
    """A cohort open for enrolment takes an enrolment that took effect by its last day, even
    when the record kept on paper is entered after the cohort ended."""
    return open_for_enrolment and enrolled_on <= ends_on


# The programme's calendar: "today", and the day of a moment, are Almaty's (UTC+5), not UTC's:
# a trainer enrolled at 01:30 in Almaty is enrolled on that day, though it is the day before
# in UTC. The other services read the same zone from their settings (sessions' TIMEZONE,
# reporting's PROGRAMME_TIMEZONE).
PROGRAMME_TIMEZONE = ZoneInfo("Asia/Almaty")


def programme_day(moment: datetime, zone: ZoneInfo = PROGRAMME_TIMEZONE) -> date:
    """The programme's calendar day of a moment (with its time zone)."""
    return moment.astimezone(zone).date()


class DateRule(StrEnum):
    """The rules a date an enrolment or a withdrawal took effect can break."""

    not_in_future = "not_in_future"
    within_cohort = "within_cohort"
    not_before_enrolled_on = "not_before_enrolled_on"


def enrolled_on_breach(
    enrolled_on: date, today: date, cohort_starts_on: date, cohort_ends_on: date
) -> DateRule | None:
    """The rule the day an enrolment took effect breaks, or None: it has happened (not after
    today) and lies inside the trainer's cohort (its first to its last day)."""
    if enrolled_on > today:
        return DateRule.not_in_future
    if not cohort_starts_on <= enrolled_on <= cohort_ends_on:
        return DateRule.within_cohort
    return None


def withdrawn_on_breach(
    withdrawn_on: date, today: date, enrolled_on: date, cohort_ends_on: date
) -> DateRule | None:
    """The rule the day a withdrawal took effect breaks, or None: it has happened, not before
    the trainer's enrolment took effect and not after the cohort's last day."""
    if withdrawn_on > today:
        return DateRule.not_in_future
    if withdrawn_on < enrolled_on:
        return DateRule.not_before_enrolled_on
    if withdrawn_on > cohort_ends_on:
        return DateRule.within_cohort
    return None


def cohort_name_matches_dates(name: str, starts_on: date, ends_on: date) -> bool:
    """A cohort is named after its school years: 2024-2025 starts in 2024 and ends in 2025."""
    match = re.fullmatch(r"(\d{4})-(\d{4})", name)
    if not match:
        return False
    first, second = int(match.group(1)), int(match.group(2))
    return second == first + 1 and starts_on.year == first and ends_on.year == second


# Trainers are pupils of grades 9-11, so one guardian's consent can cover at most the three
# school years a pupil spends in the programme: a consent signed before the first of January
# three years before the cohort's first year belongs to some other schooling, or is a slip.
CONSENT_REACH_YEARS = 3


def earliest_consent_for(cohort_starts_on: date) -> date:
    return date(cohort_starts_on.year - CONSENT_REACH_YEARS, 1, 1)


# Characters that have no place in a one-line name: control characters (line breaks, tabs,
# NUL), invisible format characters (bidi overrides, zero-width spaces), lone surrogates (which
# no encoder can write) and the Unicode line and paragraph separators.
_NOT_IN_ONE_LINE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def one_line_text_problem(text: str) -> str | None:
    """Why ``text`` is not one line of visible text, or None when it is."""
    for char in text:
        if unicodedata.category(char) in _NOT_IN_ONE_LINE:
            return f"must be one line without control characters (found U+{ord(char):04X})"
    return None


# An address the notification service can mail without SMTPUTF8: a dot-atom local part and a
# domain of letter-digit-hyphen labels (an internationalised domain in its xn-- form).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TOP_LEVEL_LABEL = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")


def mail_address_problem(address: str) -> str | None:
    """Why the mail library could not address mail to ``address``, or None when it can. The
    notification service builds ``email.headerregistry.Address(addr_spec=address)``: the address
    must parse there without a defect, read back unchanged, and be a plain user@domain.tld."""
    if len(address) > 254:
        return "must be at most 254 characters"
    if not address.isascii() or not address.isprintable() or " " in address:
        return "must be ASCII without spaces (an internationalised domain in its xn-- form)"
    try:
        parsed = Address(addr_spec=address)
    except Exception:  # the parser raises ValueError, HeaderParseError, even IndexError
        return "is not an email address the mail library can read"
    if parsed.addr_spec != address:
        return "is not an email address the mail library reads back unchanged"
    if len(parsed.username) > 64 or not _LOCAL_PART.fullmatch(parsed.username):
        return "must have a plain local part before the @ (letters, digits, single dots)"
    labels = parsed.domain.split(".")
    if (
        len(labels) < 2
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        or not _TOP_LEVEL_LABEL.fullmatch(labels[-1])
    ):
        return "must have a domain such as example.org after the @"
    return None


def mail_display_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be the display name of a mail's To header, or None when it can:
    one line, and accepted by the mail library as the notification service will use it."""
    problem = one_line_text_problem(name)
    if problem:
        return problem
    try:
        message = EmailMessage()
        message["To"] = Address(display_name=name, addr_spec="coordinator@example.org")
        message.as_bytes()
    except Exception:
        return "is not a name the mail library can write in a To header"
    return None
