"""What coordinators read beyond a template's own sentences, in their language: milestone
titles and the names of the counts that show them (message catalogues, ``messages/<lang>.json``),
the curriculum modules' titles, language names, and numbers formatted per locale by Babel.

Nothing here falls back to a key or an id: an unknown one reads as a translated general phrase
(and is logged), since a coordinator can do nothing with ``sessions_delivered`` or a slug."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale
from babel.numbers import format_decimal
from yts_chassis.logs import get_logger

from yts_notifications.curriculum import ModuleNames

log = get_logger(__name__)

MESSAGES = Path(__file__).parent / "messages"
LOCALES = ("kk", "ru", "en")
_warned: set[tuple[str, str]] = set()


def _missing(what: str, key: str) -> None:
    """Log once per process what the words are missing for (each mail renders several times)."""
    if (what, key) not in _warned:
        _warned.add((what, key))
        log.warning(f"no words for a {what}: mail names it in general terms", key=key)


@cache
def catalogue(locale: str) -> dict[str, str]:
    messages: dict[str, str] = json.loads((MESSAGES / f"{locale}.json").read_text("utf-8"))
    return messages


@dataclass(frozen=True)
class Wording:
    """The words of one locale; handed to every mail template as ``words``."""

    locale: str
    module_titles: Mapping[str, ModuleNames]

    def number(self, value: float) -> str:
        """1,000 and 4.5 in English; 1 000 and 4,5 in Kazakh and Russian (no-break space)."""
        return format_decimal(value, locale=self.locale)

    def milestone(self, kind: str) -> str:
        """The milestone's title, its threshold written as a number of the locale."""
        text = catalogue(self.locale).get(f"milestone.{kind}")
        if text is None:
            _missing("milestone kind", kind)
            return catalogue(self.locale)["milestone.unknown"]
        threshold = kind.rsplit(".", 1)[-1]
        return text.format(n=self.number(int(threshold))) if threshold.isdigit() else text

    def evidence(self, counts: Iterable[tuple[str, int]]) -> list[tuple[str, str]]:
        """A milestone's counts as (label, number) rows; a count without a label is left out
        (a number nobody can name tells nothing)."""
        rows = []
        for name, value in counts:
            label = catalogue(self.locale).get(f"count.{name}")
            if label is None:
                _missing("milestone count", name)
                continue
            rows.append((label, self.number(value)))
        return rows

    def module(self, module_id: str | None) -> str:
        names = self.module_titles.get(module_id or "")
        if names is None:
            _missing("module (not in the curriculum file)", str(module_id))
            return catalogue(self.locale)["module.unknown"]
        title: str = getattr(names, self.locale)
        return title

    def language(self, code: str) -> str:
        """A language's name in this locale (kk in Russian: казахский), from Babel's CLDR."""
        name: str | None = Locale.parse(self.locale).languages.get(code)
        return name or code
