"""The words of the credentials and of the verification pages, in Kazakh, Russian and English:
one message catalogue per language (``messages/<lang>.json``), dates as each language writes
them (Babel). A person's language comes from ``?lang=``, then the one they chose before (a
cookie), then the browser's Accept-Language (negotiated by Babel), else Kazakh."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date

from yts_credentials.settings import LANGUAGES

MESSAGES = Path(__file__).parent / "messages"
DEFAULT = "kk"
COOKIE = "yts_lang"


@cache
def catalogue(lang: str) -> dict[str, str]:
    words: dict[str, str] = json.loads((MESSAGES / f"{lang}.json").read_text(encoding="utf-8"))
    return words


def choose(requested: str | None, remembered: str | None, accept_language: str | None) -> str:
    for explicit in (requested, remembered):
        if explicit in LANGUAGES:
            return explicit
    preferred = [
        part.split(";")[0].strip().replace("-", "_")
        for part in (accept_language or "").split(",")
        if part.strip()
    ]
    negotiated = Locale.negotiate(preferred, list(LANGUAGES), sep="_")
    return str(negotiated) if negotiated else DEFAULT


@dataclass(frozen=True)
class Words:
    lang: str

    def __call__(self, key: str) -> str:
        return catalogue(self.lang).get(key) or catalogue("en")[key]

    def day(self, value: date) -> str:
        """A date as the language writes it in prose (Babel's long format)."""
        return format_date(value, format="long", locale=self.lang)
