"""The words of the credentials and of the verification pages, in Kazakh, Russian and English:
one message catalogue per language (``messages/<lang>.json``), dates as each language writes
them (Babel). A person's language comes from ``?lang=``, then the one they chose before (a
cookie), then the browser's Accept-Language (negotiated by Babel), else Kazakh."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from babel.dates import format_date
from yts_chassis import languages
from yts_chassis.languages import COOKIE, choose

__all__ = ["COOKIE", "Words", "catalogue", "choose"]

MESSAGES = Path(__file__).parent / "messages"


def catalogue(lang: str) -> dict[str, str]:
    return languages.catalogue(MESSAGES, lang)


@dataclass(frozen=True)
class Words:
    lang: str

    def __call__(self, key: str) -> str:
        return catalogue(self.lang).get(key) or catalogue("en")[key]

    def day(self, value: date) -> str:
        """A date as the language writes it in prose (Babel's long format)."""
        return format_date(value, format="long", locale=self.lang)
