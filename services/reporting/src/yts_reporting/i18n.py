"""The dashboard's languages: one message catalogue file per language (messages/<lang>.json),
chosen by ``?lang=``, else the browser's Accept-Language, else English."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from babel.numbers import format_decimal

MESSAGES = Path(__file__).parent / "messages"
LANGUAGES = ("kk", "ru", "en")
DEFAULT = "en"


@cache
def _catalogue(lang: str) -> dict[str, str]:
    raw: dict[str, str] = json.loads((MESSAGES / f"{lang}.json").read_text(encoding="utf-8"))
    return raw


def choose(requested: str | None, accept_language: str | None) -> str:
    if requested in LANGUAGES:
        return requested
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT


@dataclass(frozen=True)
class Messages:
    lang: str

    def __call__(self, key: str, **values: object) -> str:
        text = _catalogue(self.lang).get(key) or _catalogue(DEFAULT).get(key) or key
        return text.format(**values) if values else text

    def number(self, value: int | float | None, decimals: int = 0) -> str:
        """1,234.5 in English; 1 234,5 in Russian and Kazakh (no-break space), as each locale
        writes numbers (Babel)."""
        if value is None:
            return "-"
        pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
        return format_decimal(value, format=pattern, locale=self.lang)

    def percent(self, share: float | None) -> str:
        if share is None:
            return ""
        return f"{self.number(share * 100, 0)}\u00a0%" if self.lang != "en" else f"{share:.0%}"

    def day(self, value: date) -> str:
        """2024-09-01 in English (unambiguous), 01.09.2024 in Russian and Kazakh."""
        return value.isoformat() if self.lang == "en" else value.strftime("%d.%m.%Y")

    def district(self, name: str | None) -> str:
        return self(f"district.{name}") if name else self("district_unknown")
