"""The workspace's pure parts, without I/O: CSRF tokens, one-time link tokens (on an in-memory
stand-in for the bucket), a service's problem turned into messages next to fields, the language
chosen, a session's lifetimes and the sign-in link allowance."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from yts_workspace import csrf
from yts_workspace.backends import ApiProblem
from yts_workspace.i18n import Words, choose
from yts_workspace.links import Links, link_key
from yts_workspace.people import valid_email
from yts_workspace.problems import FieldMessage, field_messages
from yts_workspace.ratelimit import SlidingWindow
from yts_workspace.signins import Lifetimes, SignIn


def run(step: Any) -> Any:
    """A coroutine run to its end in a thread of its own: Playwright's sync API may be running
    an event loop in this one (the folder's browser tests)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, step).result()


def test_a_csrf_token_matches_only_itself_and_never_when_missing() -> None:
    token = csrf.new_token()
    assert csrf.matches(token, token)
    assert not csrf.matches(token, csrf.new_token())
    assert not csrf.matches(token, None)
    assert not csrf.matches(None, token)
    assert not csrf.matches("", "")
    assert csrf.new_token() != csrf.new_token()


@dataclass
class Entry:
    value: bytes
    revision: int


class MemoryBucket:
    """What ``Links`` uses of a NATS key-value bucket, in memory: revisions and a delete that
    names the revision it read."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.revision = 0

    async def create(self, key: str, value: bytes) -> int:
        if key in self.entries:
            raise KeyWrongLastSequenceError()
        self.revision += 1
        self.entries[key] = Entry(value, self.revision)
        return self.revision

    async def get(self, key: str) -> Entry:
        if key not in self.entries:
            raise KeyNotFoundError()
        return self.entries[key]

    async def delete(self, key: str, last: int | None = None) -> bool:
        if last is not None and self.entries[key].revision != last:
            raise KeyWrongLastSequenceError()
        del self.entries[key]
        return True


def links(life: timedelta = timedelta(minutes=15)) -> tuple[Links, MemoryBucket]:
    bucket = MemoryBucket()
    return Links(bucket, life), bucket  # type: ignore[arg-type]


def test_a_link_signs_its_person_in_once_and_is_kept_only_as_a_hash() -> None:
    person = uuid.uuid4()
    made, bucket = links()
    token = run(made.make(person))
    assert list(bucket.entries) == [link_key(token)]
    assert token not in link_key(token)
    assert run(made.take(token)) == person
    assert run(made.take(token)) is None


@pytest.mark.parametrize("token", ["", "x" * 201, "not-a-link-we-made"])
def test_an_unknown_empty_or_oversized_link_signs_no_one_in(token: str) -> None:
    made, _ = links()
    run(made.make(uuid.uuid4()))
    assert run(made.take(token)) is None


def test_a_link_older_than_its_life_signs_no_one_in_and_is_used_up() -> None:
    made, bucket = links(timedelta(minutes=15))
    token = run(made.make(uuid.uuid4()))
    later = datetime.now(UTC) + timedelta(minutes=16)
    assert run(made.take(token, now=later)) is None
    assert bucket.entries == {}


def problem(*errors: tuple[str, str], status: int = 422) -> ApiProblem:
    return ApiProblem(
        status,
        "Unprocessable",
        "",
        [{"field": f, "rule": r, "message": f"{r}!"} for f, r in errors],
    )


def test_a_problem_is_said_next_to_the_form_field_it_names_in_the_persons_language() -> None:
    fields = {"first_name", "participants.by_grade", "guardian_consent.given_on"}
    said = field_messages(
        problem(
            ("first_name", "missing"),
            ("first_name", "string_too_short"),  # one message a field: the first rule
            ("participants.by_grade.8", "greater_than_equal"),  # the enclosing field
            ("guardian_consent.given_on", "not_in_future"),
        ),
        Words("ru"),
        fields,
    )
    assert said == [
        FieldMessage("first_name", "Это поле нужно заполнить"),
        FieldMessage("participants.by_grade", "Это число слишком мало"),
        FieldMessage("guardian_consent.given_on", "Дата не может быть в будущем"),
    ]


def test_a_field_the_form_does_not_show_and_an_unknown_rule_go_to_the_summary() -> None:
    said = field_messages(problem(("school_id", "brand_new_rule")), Words("en"), {"first_name"})
    assert said == [FieldMessage("", "Check this answer (brand_new_rule!)")]


def test_a_form_says_a_rule_of_its_own_field_in_its_own_words() -> None:
    # A cohort's name is typed, so its pattern is not "choose one of the answers".
    cohort = {("name", "string_pattern_mismatch"): "cohorts.name_pattern"}
    wrong = problem(("name", "string_pattern_mismatch"), ("starts_on", "string_pattern_mismatch"))
    said = field_messages(wrong, Words("en"), {"name", "starts_on"}, cohort)
    assert said == [
        FieldMessage("name", "Write the two years with a dash between them, like 2025-2026"),
        FieldMessage("starts_on", "Choose one of the answers"),
    ]


def test_a_webhook_address_refused_by_notifications_is_said_in_each_language() -> None:
    refused = problem(("url", "public_destination"), ("event_types.1", "public_events_only"))
    for lang in ("kk", "ru", "en"):
        said = field_messages(refused, Words(lang), {"url", "event_types"})
        assert [m.field for m in said] == ["url", "event_types"]
        assert said[0].text == Words(lang)("rule.public_destination")
        assert said[1].text == Words(lang)("rule.public_events_only")


def test_a_problem_without_fields_is_said_by_its_status() -> None:
    said = field_messages(problem(status=409), Words("kk"), {"first_name"})
    assert len(said) == 1
    assert said[0].field == ""
    assert said[0].text == Words("kk")("problem.409")


@pytest.mark.parametrize(
    ("requested", "remembered", "accept", "chosen"),
    [
        ("en", "ru", "kk", "en"),  # chosen on this page
        (None, "ru", "en-GB,en;q=0.9", "ru"),  # remembered
        ("de", None, "ru-RU,ru;q=0.9,en;q=0.8", "ru"),  # unknown asked: the browser's
        (None, None, "en-US", "en"),
        (None, None, "fr-FR,de;q=0.5", "kk"),  # none of ours: Kazakh
        (None, "xx", None, "kk"),
    ],
)
def test_the_language_is_the_one_chosen_then_remembered_then_the_browsers_then_kazakh(
    requested: str | None, remembered: str | None, accept: str | None, chosen: str
) -> None:
    assert choose(requested, remembered, accept) == chosen


def test_numbers_and_dates_are_written_as_each_language_writes_them() -> None:
    assert Words("en").number(12345) == "12,345"
    assert Words("ru").number(12345) == "12\xa0345"
    assert Words("en").day("2026-03-14") == "Mar 14, 2026"
    # A moment is the programme's: 20:00 UTC is the next morning in Almaty.
    assert Words("en").day("2026-03-14T20:00:00+00:00") == "Mar 15, 2026"
    assert Words("en").moment("2026-03-14T20:00:00+00:00") == "Mar 15, 2026, 1:00:00\u202fAM"
    assert Words("kk")("no.such.key") == "no.such.key"


def test_a_session_ends_when_idle_too_long_or_at_its_absolute_life() -> None:
    lifetimes = Lifetimes(idle=timedelta(minutes=60), absolute=timedelta(hours=12))
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    signin = SignIn(sid="s", person_id=uuid.uuid4(), csrf="c", made_at=start, used_at=start)
    assert not lifetimes.ended(signin, start + timedelta(minutes=59))
    assert lifetimes.ended(signin, start + timedelta(minutes=61))
    busy = signin.model_copy(update={"used_at": start + timedelta(hours=12)})
    assert lifetimes.ended(busy, start + timedelta(hours=12, minutes=1))


def test_sign_in_links_are_allowed_a_few_times_per_address_and_client_in_a_window() -> None:
    now = [0.0]
    window = SlidingWindow(2, 900, clock=lambda: now[0])
    assert window.allow("email:a", "client:1")
    assert window.allow("email:a", "client:1")
    assert not window.allow("email:a", "client:2")  # the address is over
    assert window.allow("email:b", "client:2")
    now[0] = 901.0
    assert window.allow("email:a", "client:1")


@pytest.mark.parametrize(
    ("address", "valid"),
    [("deputy@school.kz", True), (" Deputy@School.KZ ", True), ("deputy", False),
     ("@school.kz", False), ("deputy@", False), ("a b@c.kz", False), ("a@" + "b" * 260, False)],
)  # fmt: skip
def test_an_address_is_one_a_link_can_be_mailed_to(address: str, valid: bool) -> None:
    assert valid_email(address) is valid


def test_every_message_exists_in_kazakh_russian_and_english() -> None:
    from yts_workspace.i18n import catalogue

    keys: dict[str, Any] = {lang: set(catalogue(lang)) for lang in ("kk", "ru", "en")}
    assert keys["kk"] == keys["ru"] == keys["en"]
