"""The workspace in a real headless Chromium (Debian's, driven by Playwright) against `yts up`'s
system as real processes (nats-server, the services, the workspace as its own NATS user), with
sign-in links picked up by a real SMTP receiver on loopback: signing in by a mailed link, a
coordinator's flows in kk, ru and en, wrong input shown next to its field, another school's page
refused, an ended session, a revoked person; an axe-core scan of every page.

Set ``YTS_SAVE_WORKSPACE_SCREENSHOTS=1`` to write the main pages to docs/ (docs/workspace.md)."""

# ruff: noqa: RUF001 (Kazakh and Russian words as a person reads them)
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from yts_chassis.access import Role
from yts_workspace.buckets import SIGNINS_BUCKET
from yts_workspace.signins import SignIn

from tests.support.browser import needs_chromium
from tests.support.services import eventually_sync
from tests.workspace.browsing import World, as_workspace, serious_violations, shoot, sign_in

pytestmark = [needs_chromium, pytest.mark.timeout(600)]


WORDS = {
    "en": {
        "trainers": "Trainers",
        "problem": "There is a problem",
        "empty": "This cannot be left empty",
        "future": "The date cannot be in the future",
        "recorded": "Recorded for 1",
        "refused": "You cannot open this page",
        "ended": "Your session has ended",
    },
    "ru": {
        "trainers": "Тренеры",
        "problem": "Есть ошибка",
        "empty": "Это поле нужно заполнить",
        "future": "Дата не может быть в будущем",
        "recorded": "Записано для 1",
        "refused": "Эта страница вам недоступна",
        "ended": "Ваш сеанс завершён",
    },
    "kk": {
        "trainers": "Тренерлер",
        "problem": "Қате бар",
        "empty": "Бұл өрісті толтыру керек",
        "future": "Күн болашақта болмауы керек",
        "recorded": "1 тренерге жазылды",
        "refused": "Бұл бет сізге қолжетімсіз",
        "ended": "Сеансыңыз аяқталды",
    },
}


def test_a_coordinator_signs_in_by_a_mailed_link_and_lands_on_their_schools_trainers(
    world: World, browser: Any
) -> None:
    page = sign_in(world, browser, world.coordinator)
    assert page.url.endswith(f"/schools/{world.schools[0]['id']}")
    assert page.locator("h1").inner_text() == "Trainers"
    cookie = next(c for c in page.context.cookies() if c["name"] == "yts_ws_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    headers = httpx.get(f"{world.url}/sign-in").headers
    assert headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    assert serious_violations(page) == []
    page.context.close()


def test_a_sign_in_link_works_once(world: World, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{world.url}/sign-in?lang=en")
    seen = len(world.mailbox.to(world.coordinator.email))
    page.fill("#email", world.coordinator.email)
    page.click("button[type=submit]")
    link = world.link_for(world.coordinator.email, seen)
    page.goto(link)
    page.click("main button[type=submit]")
    page.wait_for_selector("h1")
    again = browser.new_context().new_page()
    again.goto(link)
    again.click("main button[type=submit]")
    assert again.locator("h1").inner_text() == "This link does not work"
    context.close()


def test_an_unknown_address_sees_the_same_check_your_mail_page(world: World, browser: Any) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{world.url}/sign-in?lang=en")
    page.fill("#email", "nobody@nowhere.kz")
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Check your mail"
    assert world.mailbox.to("nobody@nowhere.kz") == []


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_a_coordinator_enrols_a_trainer_and_records_a_module_in_their_language(
    world: World, browser: Any, lang: str
) -> None:
    words = WORDS[lang]
    school = world.schools[0]["id"]
    page = sign_in(world, browser, world.coordinator, lang)
    assert page.locator("h1").inner_text() == words["trainers"]
    page.goto(f"{world.url}/schools/{school}/trainers/new")
    assert serious_violations(page) == []
    # Wrong input: no first name, a consent signed tomorrow.
    page.select_option("#cohort_id", world.cohort["id"])
    page.fill("#last_name", f"Seitkali-{lang}")
    page.check("#grade-2")
    page.check("#languages-1")
    page.fill("#guardian_consent-guardian_name", "Gulnara Seitkali")
    page.fill("#guardian_consent-given_on", (date.today() + timedelta(days=3)).isoformat())
    page.click("main button[type=submit]")
    assert page.locator(".error-summary h2").inner_text() == words["problem"]
    assert words["empty"] in page.locator("#first_name-error").inner_text()
    assert serious_violations(page) == []
    shoot(page, f"enrol-errors-{lang}")
    # The name given, the consent's date is the next rule the service checks.
    page.fill("#first_name", f"Aruzhan-{lang}")
    page.click("main button[type=submit]")
    assert words["future"] in page.locator("#guardian_consent-given_on-error").inner_text()
    assert page.locator("#first_name").input_value() == f"Aruzhan-{lang}"
    # Corrected: enrolled.
    page.fill("#guardian_consent-given_on", date.today().isoformat())
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/trainers/[0-9a-f-]+\?enrolled=1"))
    assert page.locator("h1").inner_text() == f"Aruzhan-{lang} Seitkali-{lang}"
    # The module, once sessions has heard of the enrolment.
    page.goto(f"{world.url}/schools/{school}/completions")
    assert serious_violations(page) == []

    def recorded() -> bool:
        page.goto(f"{world.url}/schools/{school}/completions")
        page.select_option("#module_id", index=1)
        page.get_by_label(f"Aruzhan-{lang} Seitkali-{lang}").check()
        page.click("main button[type=submit]")
        return words["recorded"] in page.locator("main").inner_text()

    eventually_sync(recorded, timeout=30, interval=0.5)
    shoot(page, f"completions-{lang}")
    page.goto(f"{world.url}/schools/{school}?q=Aruzhan-{lang}")
    assert page.locator("tbody tr").count() == 1
    assert serious_violations(page) == []
    shoot(page, f"trainers-{lang}")
    page.context.close()


def test_a_coordinator_opening_another_schools_page_is_refused(world: World, browser: Any) -> None:
    page = sign_in(world, browser, world.coordinator, "ru")
    response = page.goto(f"{world.url}/schools/{world.schools[1]['id']}")
    assert response.status == 403
    assert page.locator("h1").inner_text() == WORDS["ru"]["refused"]
    assert serious_violations(page) == []
    page.context.close()


def test_a_session_unused_past_its_idle_time_has_ended(world: World, browser: Any) -> None:
    page = sign_in(world, browser, world.coordinator, "kk")

    async def age_every_session(js: Any) -> None:
        kv = await js.key_value(SIGNINS_BUCKET)
        for key in await kv.keys():
            entry = await kv.get(key)
            signin = SignIn.model_validate_json(entry.value)
            old = datetime.now(UTC) - timedelta(days=1)
            aged = signin.model_copy(update={"used_at": old})
            await kv.put(key, aged.model_dump_json().encode())

    as_workspace(world.system, age_every_session)
    page.goto(f"{world.url}/schools/{world.schools[0]['id']}")
    assert "/sign-in" in page.url
    assert WORDS["kk"]["ended"] in page.locator("main").inner_text()
    page.context.close()


def test_a_person_revoked_by_staff_is_refused_at_once(world: World, browser: Any) -> None:
    leaver = world.add_person("leaver@school12.kz", "Leaver L.", Role.coordinator)
    coordinator = sign_in(world, browser, leaver, "en")
    staff = sign_in(world, browser, world.staff, "en")
    assert staff.url.endswith("/staff")
    assert serious_violations(staff) == []
    shoot(staff, "staff")
    staff.goto(f"{world.url}/staff/people")
    assert serious_violations(staff) == []
    shoot(staff, "people")
    row = staff.locator("tr", has_text=leaver.email)
    row.locator("button").click()
    assert "Access revoked" in staff.locator("main").inner_text()
    coordinator.goto(f"{world.url}/schools/{world.schools[0]['id']}")
    assert "/sign-in" in coordinator.url
    # No new link for a revoked account either.
    seen = len(world.mailbox.to(leaver.email))
    coordinator.fill("#email", leaver.email)
    coordinator.click("button[type=submit]")
    assert coordinator.locator("h1").inner_text() == "Check your mail"
    assert len(world.mailbox.to(leaver.email)) == seen
