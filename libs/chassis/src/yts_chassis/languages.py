"""The programme's languages for pages people read (Kazakh, Russian, English): which one a
person gets, and the message catalogues a service keeps for them (``messages/<lang>.json``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from babel import Locale

LANGUAGES = ("kk", "ru", "en")
DEFAULT = "kk"
COOKIE = "yts_lang"  # the language a person chose, remembered


def choose(requested: str | None, remembered: str | None, accept_language: str | None) -> str:
    """``?lang=``, then the one chosen before (the cookie), then the browser's
    Accept-Language (negotiated by Babel), else Kazakh."""
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


@cache
def catalogue(folder: Path, lang: str) -> dict[str, str]:
    """A service's words in one language, read once."""
    words: dict[str, str] = json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))
    return words
