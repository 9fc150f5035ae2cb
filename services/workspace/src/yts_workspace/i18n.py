"""The workspace's words in Kazakh, Russian and English: one message catalogue per language
(``messages/<lang>.json``), numbers and dates as each language writes them (Babel). A person's
language comes from what they chose (``?lang=``, then remembered in a cookie), then the
browser's Accept-Language (negotiated by Babel), else Kazakh."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from yts_chassis import languages
from yts_chassis.languages import COOKIE, LANGUAGES, choose

__all__ = ["COOKIE", "LANGUAGES", "Words", "catalogue", "choose"]

MESSAGES = Path(__file__).parent / "messages"
# Moments (a sign-in, a delivery's attempt) are shown in the programme's time zone.
TIME_ZONE = ZoneInfo("Asia/Almaty")


def catalogue(lang: str) -> dict[str, str]:
    return languages.catalogue(MESSAGES, lang)


@dataclass(frozen=True)
class Words:
    lang: str

    def __call__(self, key: str, **values: object) -> str:
        text = catalogue(self.lang).get(key) or catalogue("en").get(key) or key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in catalogue("en")

    def rule(self, rule: str, api_message: str) -> str:
        """A broken rule in the person's words; one the catalogue lacks is said generally,
        with the service's own (English) words after it."""
        if self.has(f"rule.{rule}"):
            return self(f"rule.{rule}")
        return self("rule.other", message=api_message)

    def problem(self, status: int, detail: str) -> str:
        if self.has(f"problem.{status}"):
            return self(f"problem.{status}")
        return self("problem.other", message=detail)

    def number(self, value: int | float | None) -> str:
        return "-" if value is None else format_decimal(value, locale=self.lang)

    def day(self, value: date | str | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            # A moment's day is the programme's (Asia/Almaty), not UTC's.
            value = (
                datetime.fromisoformat(value).astimezone(TIME_ZONE).date()
                if len(value) > 10
                else date.fromisoformat(value)
            )
        return format_date(value, format="medium", locale=self.lang)

    def moment(self, value: datetime | str | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return format_datetime(value, format="medium", tzinfo=TIME_ZONE, locale=self.lang)
