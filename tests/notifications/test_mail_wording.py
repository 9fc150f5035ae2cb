"""Everything a coordinator reads in a mail comes from the translations: every template in every
language, with every milestone kind and a weekly summary of sessions on every curriculum
module, shows no key, id, code or placeholder; counts and modules are named in the mail's
language and numbers are written as that language writes them. The words are checked against
what the sessions service publishes (its curriculum file and its milestone counts)."""

from __future__ import annotations

import re
import tomllib
import uuid
from html.parser import HTMLParser
from typing import Any

import pytest
from yts_contracts.milestones import MilestoneKind
from yts_notifications.curriculum import CURRICULUM, load_module_titles
from yts_notifications.i18n import LOCALES, Wording, catalogue
from yts_notifications.mail import MailTemplates, RenderedMail
from yts_notifications.store import MailMessage
from yts_sessions.milestones.rules import Count, milestone_rules
from yts_sessions.settings import CURRICULUM as SESSIONS_CURRICULUM
from yts_sessions.settings import MilestoneThresholds

TITLES = load_module_titles()
MODULE_IDS = sorted(TITLES)
# A module the sessions service may add before this service's copy of the curriculum knows it.
RETIRED_MODULE = "m1-retired-module"
REFERENCE = str(uuid.uuid4())
# The count each milestone kind is reached by, as the sessions service reports it.
EVIDENCE = {
    rule.kind: {rule.count.value: rule.threshold}
    for rule in milestone_rules(MilestoneThresholds(), core_modules=len(MODULE_IDS))
}

RAW = {
    "snake_case key": re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),
    "snake_case key and colon": re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\s*:"),
    "dotted key": re.compile(r"\b(?:trainer|school|programme|milestone|count|module)\.[a-z0-9_]"),
    "module id": re.compile(r"\b(?=[a-z0-9-]*[a-z])[a-z0-9]+(?:-[a-z0-9]+)+\b"),
    "language code": re.compile(r"\((?:kk|ru|en)\)"),
    "placeholder": re.compile(r"\{\{|\}\}|\{%|%\}|\{[a-z_]*\}|\bNone\b|Undefined"),
}


class TextOf(HTMLParser):
    """What a reader sees of an HTML part: its text, without tags and attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.feed(html)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(self.parts)


def raw_keys(text: str) -> dict[str, list[str]]:
    """What in ``text`` is a key, id, code or placeholder rather than words."""
    text = text.replace(REFERENCE, "")  # the trainer's reference: an id on purpose
    found = {name: pattern.findall(text) for name, pattern in RAW.items()}
    found["curriculum id"] = [m for m in [*MODULE_IDS, RETIRED_MODULE] if m in text]
    return {name: hits for name, hits in found.items() if hits}


def base() -> dict[str, Any]:
    return {"coordinator_name": "Aigerim Sadykova", "school_name": "School-Lyceum No. 134"}


def trainer() -> dict[str, Any]:
    return {"grade": 10, "enrolled_on": "2026-09-14", "reference": REFERENCE}


def weekly_summary() -> dict[str, Any]:
    sessions = [
        {
            "delivered_on": f"2026-03-0{2 + index % 5}",
            "topic": module_id,
            "language": ("kk", "ru", "en")[index % 3],
            "participants": 20 + index,
            "duration_minutes": 45,
        }
        for index, module_id in enumerate([*MODULE_IDS, RETIRED_MODULE])
    ]
    return {
        **base(),
        "week": {"label": "2026-W10", "first_day": "2026-03-02", "last_day": "2026-03-08"},
        "totals": {
            "completed": len(sessions),
            "cancelled": 2,
            "participants": sum(s["participants"] for s in sessions),
            "average_rating": 4.5,
        },
        "sessions": sessions,
    }


def milestone(kind: MilestoneKind) -> dict[str, Any]:
    evidence = {**EVIDENCE[kind], "a_count_added_later": 3}
    return {
        **base(),
        "milestone": {
            "kind": kind.value,
            "reached_on": "2026-10-01",
            "evidence": sorted(evidence.items()),
        },
    }


CASES: list[tuple[str, MailMessage, dict[str, Any]]] = [
    ("trainer_enrolled", MailMessage.trainer_enrolled, {**base(), "trainer": trainer()}),
    (
        "trainer_certified",
        MailMessage.trainer_certified,
        {**base(), "trainer": trainer(), "certified_on": "2026-11-02"},
    ),
    *[
        (f"school_milestone[{kind.value}]", MailMessage.school_milestone, milestone(kind))
        for kind in MilestoneKind
    ],
    ("weekly_summary", MailMessage.weekly_summary, weekly_summary()),
]


def render(message: MailMessage, locale: str, context: dict[str, Any]) -> RenderedMail:
    return MailTemplates(TITLES).render(message, locale, context)


def test_every_message_is_a_case() -> None:
    assert {message for _, message, _ in CASES} == set(MailMessage)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("case", "message", "context"), CASES, ids=[c[0] for c in CASES])
def test_every_mail_in_every_language_shows_words_and_no_key_id_or_placeholder(
    case: str, message: MailMessage, context: dict[str, Any], locale: str
) -> None:
    rendered = render(message, locale, context)
    for part, text in (
        ("subject", rendered.subject),
        ("text", rendered.text),
        ("html", TextOf(rendered.html).text),
    ):
        assert raw_keys(text) == {}, f"{case} ({locale}) {part}:\n{text}"


@pytest.mark.parametrize(
    ("locale", "line"),
    [
        ("kk", "  Өткізілген сабақтар: 20\n"),
        ("ru", "  Проведено занятий: 20\n"),
        ("en", "  Peer sessions delivered: 20\n"),
    ],
)
def test_a_milestones_counts_are_named_in_the_mails_language(locale: str, line: str) -> None:
    rendered = render(
        MailMessage.school_milestone, locale, milestone(MilestoneKind.SCHOOL_SESSIONS_20)
    )
    assert line in rendered.text
    label, number = line.strip().split(": ")
    assert f"{label}</th><td>{number}</td>" in rendered.html
    # A count this service has no words for is left out rather than shown as a key.
    assert "3" not in rendered.text.split(label)[1].split("--")[0]


@pytest.mark.parametrize(
    ("locale", "title"),
    [
        ("kk", "бағдарлама бойынша құрдастардың 10\u00a0000 қатысуы"),
        ("ru", "10\u00a0000 участий сверстников в программе"),
        ("en", "10,000 peer participations across the programme"),
    ],
)
def test_numbers_are_written_as_the_mails_language_writes_them(locale: str, title: str) -> None:
    rendered = render(
        MailMessage.school_milestone, locale, milestone(MilestoneKind.PROGRAMME_PEERS_10000)
    )
    assert rendered.subject.endswith(title)
    summary = render(MailMessage.weekly_summary, locale, weekly_summary())
    assert ("4.5" if locale == "en" else "4,5") in summary.text


@pytest.mark.parametrize(
    ("locale", "line"),
    [
        ("kk", "Мәдениетаралық коммуникация (орыс тілі): қатысушылар 21, 45 мин"),
        ("ru", "Межкультурная коммуникация (русский): участников 21, 45 мин"),
        ("en", "Intercultural communication (Russian): 21 participants, 45 min"),
    ],
)
def test_weekly_summaries_name_each_sessions_module_and_language_in_the_mails_language(
    locale: str, line: str
) -> None:
    context = weekly_summary()
    context["sessions"] = [
        {
            "delivered_on": "2026-03-03",
            "topic": "intercultural-communication",
            "language": "ru",
            "participants": 21,
            "duration_minutes": 45,
        },
        {**context["sessions"][0], "topic": RETIRED_MODULE},
    ]
    rendered = render(MailMessage.weekly_summary, locale, context)
    assert line in rendered.text
    assert line.replace(":", ",") in TextOf(rendered.html).text
    # A module the curriculum file does not know yet reads as "another module", not its id.
    assert catalogue(locale)["module.unknown"] in rendered.text


def test_this_services_curriculum_titles_are_the_sessions_services() -> None:
    with SESSIONS_CURRICULUM.open("rb") as file:
        published = tomllib.load(file)["modules"]
    assert CURRICULUM.name == "curriculum.toml"
    assert {module["id"]: module["names"] for module in published} == {
        module_id: names.model_dump() for module_id, names in TITLES.items()
    }


def test_every_milestone_kind_and_count_has_words_in_every_language() -> None:
    keys = set(catalogue("en"))
    for locale in LOCALES:
        assert set(catalogue(locale)) == keys, locale
        words = Wording(locale, TITLES)
        for kind in MilestoneKind:
            assert words.milestone(kind.value) != catalogue(locale)["milestone.unknown"]
        for count in Count:
            assert [label for label, _ in words.evidence([(count.value, 1)])] == [
                catalogue(locale)[f"count.{count.value}"]
            ]
