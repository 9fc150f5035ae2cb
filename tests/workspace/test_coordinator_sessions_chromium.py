"""A coordinator's peer sessions, withdrawals and figures in a real Chromium against `yts up`'s
processes: two trainers certified by recording every core module on the completions page, a
session planned (a facilitator who is not certified is refused), its outcome recorded, another
cancelled with a reason from the list, a trainer withdrawn, the school's figures; wrong input is
shown next to its field, in kk, ru and en; every page passes the axe-core scan in each."""

# ruff: noqa: RUF001 (Kazakh and Russian words as a person reads them)
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from tests.support.browser import needs_chromium
from tests.support.services import eventually_sync
from tests.workspace.browsing import World, serious_violations, shoot, sign_in

pytestmark = [needs_chromium, pytest.mark.timeout(600)]

WORDS = {
    "en": {
        "missing": "This cannot be left empty",
        "choose_one": "Choose at least one",
        "not_certified": "Only a certified trainer can run a session",
        "girls_and_boys": "Girls and boys together cannot be more than the total",
        "planned": "Planned",
        "took_place": "Took place",
        "cancelled": "Cancelled",
        "weather": "Weather",
        "too_short": "This is too short",
        "corrected": "The name is corrected.",
        "mail": "Mail we sent you",
        "enrolled_kind": "A trainer enrolled",
        "future": "The date cannot be in the future",
        "withdrawn": "Withdrawn",
        "figures": "The school's figures",
        "sessions_held": "Sessions held",
    },
    "ru": {
        "missing": "Это поле нужно заполнить",
        "choose_one": "Выберите хотя бы один вариант",
        "not_certified": "Проводить занятие может только сертифицированный тренер",
        "girls_and_boys": "Девочек и мальчиков вместе не может быть больше общего числа",
        "planned": "Запланировано",
        "took_place": "Проведено",
        "cancelled": "Отменено",
        "weather": "Погода",
        "too_short": "Слишком коротко",
        "corrected": "Имя исправлено.",
        "mail": "Письма вам",
        "enrolled_kind": "Зачислен тренер",
        "future": "Дата не может быть в будущем",
        "withdrawn": "Отчислен",
        "figures": "Показатели школы",
        "sessions_held": "Проведено занятий",
    },
    "kk": {
        "missing": "Бұл өрісті толтыру керек",
        "choose_one": "Кемінде біреуін таңдаңыз",
        "not_certified": "Сабақты тек сертификатталған тренер өткізе алады",
        "girls_and_boys": "Қыздар мен ұлдар бірге жалпы саннан көп болмауы керек",
        "planned": "Жоспарланған",
        "took_place": "Өткізілді",
        "cancelled": "Болдырылмады",
        "weather": "Ауа райы",
        "too_short": "Тым қысқа",
        "corrected": "Аты түзетілді.",
        "mail": "Сізге хаттар",
        "enrolled_kind": "Тренер қабылданды",
        "future": "Күн болашақта болмауы керек",
        "withdrawn": "Шығарылған",
        "figures": "Мектептің көрсеткіштері",
        "sessions_held": "Өткізілген сабақтар",
    },
}
LANGUAGES = ("kk", "ru", "en")


class Trainers:
    def __init__(self, certified: list[dict[str, Any]], uncertified: dict[str, Any]) -> None:
        self.certified = certified
        self.uncertified = uncertified


def name(trainer: dict[str, Any]) -> str:
    return f"{trainer['first_name']} {trainer['last_name']}"


@pytest.fixture(scope="module")
def trainers(world: World, browser: Any) -> Trainers:
    """Two trainers certified the way a coordinator does it: every core module recorded on the
    completions page, both ticked at once; a third enrolled and not certified."""
    pair = [world.enrol("Dana", "Certified"), world.enrol("Erlan", "Certified")]
    newcomer = world.enrol("Asel", "Newcomer")
    core = [m for m in world.call("GET", "sessions", "/v1/modules") if m["core"]]
    page = sign_in(world, browser, world.coordinator, "en")
    school = world.schools[0]["id"]
    for module in core:
        page.goto(f"{world.url}/schools/{school}/completions")
        page.select_option("#module_id", module["id"])
        for trainer in pair:
            page.get_by_label(name(trainer), exact=True).check()
        page.click("main button[type=submit]")
        assert "Recorded for 2" in page.locator("main").inner_text()
    page.goto(f"{world.url}/schools/{school}?q=Certified")
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    for row in range(2):
        assert "Yes" in rows.nth(row).inner_text()
    page.context.close()
    return Trainers(pair, newcomer)


def plan(page: Any, world: World, facilitators: list[dict[str, Any]], lang: str) -> None:
    school = world.schools[0]["id"]
    page.goto(f"{world.url}/schools/{school}/sessions/new?lang={lang}")
    page.select_option("#topic_module_id", index=1)
    for trainer in facilitators:
        page.get_by_label(name(trainer), exact=True).check()
    page.check("#language-1")
    page.fill("#planned_on", date.today().isoformat())
    page.click("main button[type=submit]")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_coordinator_plans_a_peer_session_and_records_its_outcome_in_their_language(
    world: World, browser: Any, trainers: Trainers, lang: str
) -> None:
    words = WORDS[lang]
    school = world.schools[0]["id"]
    page = sign_in(world, browser, world.coordinator, lang)
    # Nothing chosen: each question says what it needs, next to it.
    page.goto(f"{world.url}/schools/{school}/sessions/new")
    page.click("main button[type=submit]")
    assert words["missing"] in page.locator("#topic_module_id-error").inner_text()
    assert words["choose_one"] in page.locator("#facilitator_ids-error").inner_text()
    assert serious_violations(page) == []
    # A facilitator who is not certified is refused, and nothing is planned.
    before = len(world.call("GET", "sessions", f"/v1/sessions?school_id={school}")["items"])
    plan(page, world, [trainers.uncertified], lang)
    assert words["not_certified"] in page.locator("#facilitator_ids-error").inner_text()
    after = len(world.call("GET", "sessions", f"/v1/sessions?school_id={school}")["items"])
    assert after == before
    shoot(page, f"plan-errors-{lang}")
    # Certified facilitators: planned.
    plan(page, world, trainers.certified, lang)
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]+$"))
    assert words["planned"] in page.locator(".summary").inner_text()
    assert name(trainers.certified[0]) in page.locator(".summary").inner_text()
    assert serious_violations(page) == []
    shoot(page, f"session-{lang}")
    # The outcome, first with more girls and boys than took part.
    outcome = page.locator("form[action$='/completion']")
    page.fill("#delivered_on", date.today().isoformat())
    page.fill("#duration_minutes", "45")
    page.fill("#participants-total", "10")
    page.fill("#participants-female", "8")
    page.fill("#participants-male", "5")
    page.fill("#grade-8", "10")
    page.fill("#feedback-responses", "6")
    page.fill("#feedback-average_rating", "4,5")
    outcome.locator("button[type=submit]").click()
    assert words["girls_and_boys"] in page.locator("#participants-female-error").inner_text()
    assert page.locator("#participants-total").input_value() == "10"
    assert serious_violations(page) == []
    page.fill("#participants-female", "5")
    page.locator("form[action$='/completion'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]+$"))
    summary = page.locator(".summary").inner_text()
    assert words["took_place"] in summary
    assert "10" in summary
    assert page.locator("form[action$='/completion']").count() == 0


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_coordinator_cancels_a_session_with_a_reason_from_the_list(
    world: World, browser: Any, trainers: Trainers, lang: str
) -> None:
    words = WORDS[lang]
    page = sign_in(world, browser, world.coordinator, lang)
    plan(page, world, trainers.certified[:1], lang)
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]+$"))
    cancel = page.locator("form[action$='/cancellation'] button[type=submit]")
    cancel.click()  # no reason chosen
    assert words["missing"] in page.locator("#reason-error").inner_text()
    assert words["planned"] in page.locator(".summary").inner_text()
    page.select_option("#reason", "weather")
    page.fill("#note", "Snow day")
    page.locator("form[action$='/cancellation'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]+$"))
    summary = page.locator(".summary").inner_text()
    assert words["cancelled"] in summary
    assert f"{words['weather']}: Snow day" in summary
    assert serious_violations(page) == []
    page.goto(f"{world.url}/schools/{world.schools[0]['id']}/sessions")
    assert words["cancelled"] in page.locator("tbody").inner_text()
    assert serious_violations(page) == []
    shoot(page, f"sessions-{lang}")


def test_a_coordinator_withdraws_a_trainer_on_the_day_it_happened(
    world: World, browser: Any
) -> None:
    trainer = world.enrol("Nurlan", "Leaving")
    school = world.schools[0]["id"]
    page = sign_in(world, browser, world.coordinator, "ru")
    page.goto(f"{world.url}/schools/{school}/trainers/{trainer['id']}")
    assert serious_violations(page) == []
    page.select_option("#reason", "moved_school")
    page.fill("#withdrawn_on", (date.today() + timedelta(days=2)).isoformat())
    page.locator("form[action$='/withdrawal'] button[type=submit]").click()
    assert WORDS["ru"]["future"] in page.locator("#withdrawn_on-error").inner_text()
    assert world.call("GET", "enrolment", f"/v1/trainers/{trainer['id']}")["status"] == "active"
    page.fill("#withdrawn_on", date.today().isoformat())
    page.locator("form[action$='/withdrawal'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"withdrawn=1"))
    assert WORDS["ru"]["withdrawn"] in page.locator(".summary").first.inner_text()
    assert page.locator("form[action$='/withdrawal']").count() == 0
    assert world.call("GET", "enrolment", f"/v1/trainers/{trainer['id']}")["status"] == "withdrawn"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_coordinator_sees_the_schools_figures_against_its_targets(
    world: World, browser: Any, trainers: Trainers, lang: str
) -> None:
    words = WORDS[lang]
    school = world.schools[0]["id"]
    page = sign_in(world, browser, world.coordinator, lang)

    def counted() -> bool:
        page.goto(f"{world.url}/schools/{school}/figures")
        return page.locator("tbody tr").count() > 0

    eventually_sync(counted, timeout=60, interval=1)
    assert page.locator("h1").inner_text() == words["figures"]
    row = page.locator("tbody tr", has_text=words["sessions_held"])
    assert row.count() == 1
    assert serious_violations(page) == []
    shoot(page, f"figures-{lang}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_coordinator_page_passes_the_accessibility_scan(
    world: World, browser: Any, trainers: Trainers, lang: str
) -> None:
    school = world.schools[0]["id"]
    trainer = trainers.certified[0]["id"]
    page = sign_in(world, browser, world.coordinator, lang)
    sessions = world.call("GET", "sessions", f"/v1/sessions?school_id={school}")["items"]
    paths = [
        "",
        "/trainers/new",
        f"/trainers/{trainer}",
        "/completions",
        "/sessions",
        "/sessions/new",
        "/figures",
        "/mail",
        f"/trainers/{trainer}/name",
        *[f"/sessions/{s['id']}" for s in sessions[:1]],
    ]
    for path in paths:
        page.goto(f"{world.url}/schools/{school}{path}")
        assert page.locator("html").get_attribute("lang") == lang
        assert serious_violations(page) == [], path
    page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_coordinator_corrects_a_mistyped_name(world: World, browser: Any, lang: str) -> None:
    words = WORDS[lang]
    trainer = world.enrol(f"Aigrim-{lang}", "Sadykova")
    school = world.schools[0]["id"]
    page = sign_in(world, browser, world.coordinator, lang)
    page.goto(f"{world.url}/schools/{school}/trainers/{trainer['id']}")
    page.click(f"a[href$='/trainers/{trainer['id']}/name']")
    assert page.locator("#first_name").input_value() == f"Aigrim-{lang}"
    page.fill("#last_name", "")
    page.click("main button[type=submit]")
    assert words["too_short"] in page.locator("#last_name-error").inner_text()
    assert serious_violations(page) == []
    shoot(page, f"name-errors-{lang}")
    assert world.call("GET", "enrolment", f"/v1/trainers/{trainer['id']}")["last_name"] == (
        "Sadykova"
    )
    page.fill("#first_name", f"Aigerim-{lang}")
    page.fill("#last_name", "Sadykova")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"corrected=1"))
    assert words["corrected"] in page.locator("main").inner_text()
    assert page.locator("h1").inner_text() == f"Aigerim-{lang} Sadykova"
    page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_coordinator_reads_the_mail_sent_to_their_school_and_no_other(
    world: World, browser: Any, lang: str
) -> None:
    words = WORDS[lang]
    own, other = world.schools[0], world.schools[1]
    world.enrol(f"Mail-{lang}", "Own", school=0)
    world.enrol(f"Mail-{lang}", "Other", school=1)
    page = sign_in(world, browser, world.coordinator, lang)

    def listed() -> str:
        page.goto(f"{world.url}/schools/{own['id']}/mail")
        text = page.locator("main").inner_text()
        return text if words["enrolled_kind"] in text else ""

    text = eventually_sync(listed, timeout=60, interval=1)
    assert page.locator("h1").inner_text() == words["mail"]
    # The coordinator's mail is in their own language (ru), whatever the page's.
    assert f"Зачислен новый юный тренер: {own['name']}" in text
    assert other["name"] not in text
    assert serious_violations(page) == []
    shoot(page, f"mail-{lang}")
    refused = page.goto(f"{world.url}/schools/{other['id']}/mail")
    assert refused is not None
    assert refused.status == 403
    page.context.close()
