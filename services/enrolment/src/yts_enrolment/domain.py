"""The enrolment rules: pure functions and value types, no I/O."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date
from enum import StrEnum

from yts_contracts.enrolment import WithdrawalReason
from yts_contracts.vocabulary import District, Gender

__all__ = [
    "GRADES",
    "District",
    "Gender",
    "Locale",
    "TrainerStatus",
    "WithdrawalReason",
    "cohort_accepts_enrolment",
    "cohort_name_matches_dates",
    "person_key",
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


def cohort_accepts_enrolment(open_for_enrolment: bool, ends_on: date, today: date) -> bool:
    return open_for_enrolment and today <= ends_on


def cohort_name_matches_dates(name: str, starts_on: date, ends_on: date) -> bool:
    """A cohort is named after its school years: 2024-2025 starts in 2024 and ends in 2025."""
    match = re.fullmatch(r"(\d{4})-(\d{4})", name)
    if not match:
        return False
    first, second = int(match.group(1)), int(match.group(2))
    return second == first + 1 and starts_on.year == first and ends_on.year == second
