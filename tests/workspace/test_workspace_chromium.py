"""The workspace in a real headless Chromium (Debian's, driven by Playwright) against `yts up`'s
system as real processes (nats-server, the services, the workspace as its own NATS user), with
sign-in links picked up by a real SMTP receiver on loopback: signing in by a mailed link, a
coordinator's flows in kk, ru and en, wrong input shown next to its field, another school's page
refused, an ended session, a revoked person; an axe-core scan of every page.

Set ``YTS_SAVE_WORKSPACE_SCREENSHOTS=1`` to write the main pages to docs/ (docs/workspace.md)."""

# ruff: noqa: RUF001 (Kazakh and Russian words as a person reads them)
from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from yts_chassis.access import Role
from yts_deploy.natsconfig import WORKSPACE, admin_connect
from yts_deploy.runner import LocalSystem
from yts_workspace.buckets import PEOPLE_BUCKET, SIGNINS_BUCKET
from yts_workspace.people import People, Person
from yts_workspace.signins import SignIn

from tests.support.browser import CHROMIUM, needs_chromium
from tests.support.notifications_mailbox import MailBox
from tests.support.services import eventually_sync

pytestmark = [needs_chromium, pytest.mark.timeout(600)]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
DOCS = Path(__file__).resolve().parents[2] / "docs"
LINK = re.compile(r"http://\S+/sign-in/link\?token=\S+")


def as_workspace(system: LocalSystem, action: Any) -> Any:
    """``action(js)`` connected as the workspace's NATS user (the only one that may write its
    buckets), as an operator's tool would."""

    async def run() -> Any:
        assert system.nats is not None
        nc = await admin_connect(system.nats.url, WORKSPACE, system.nats_passwords[WORKSPACE])
        try:
            return await action(nc.jetstream())
        finally:
            await nc.close()

    # In a thread of its own: Playwright's sync API runs an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, run()).result()


class World:
    def __init__(self, system: LocalSystem, mailbox: MailBox) -> None:
        self.system = system
        self.mailbox = mailbox
        assert system.workspace is not None
        self.url = system.workspace.url
        self.admin = {"Authorization": f"Bearer {system.token}"}
        enrolment = system.services["enrolment"].url
        today = date.today()
        start = date(today.year - 1 if today.month < 9 else today.year, 9, 1)
        cohort = httpx.post(
            f"{enrolment}/v1/cohorts",
            json={
                "name": f"{start.year}-{start.year + 1}",
                "starts_on": start.isoformat(),
                "ends_on": date(start.year + 1, 6, 30).isoformat(),
            },
            headers=self.admin,
        )
        assert cohort.status_code == 201, cohort.text
        self.cohort = cohort.json()
        self.schools = [self._school(enrolment, f"School-Lyceum No. {n}") for n in (12, 34)]
        self.coordinator = self.add_person("deputy@school12.kz", "Aigerim S.", Role.coordinator)
        self.staff = self.add_person("staff@unesco.kz", "Dana K.", Role.admin)

    def _school(self, enrolment: str, name: str) -> dict[str, Any]:
        response = httpx.post(
            f"{enrolment}/v1/schools",
            json={
                "name": name,
                "district": "Almaly",
                "languages": ["kk", "ru"],
                "coordinator": {"name": "Deputy", "email": "deputy@example.kz", "locale": "ru"},
            },
            headers=self.admin,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def add_person(self, email: str, name: str, role: Role) -> Person:
        school = uuid.UUID(self.schools[0]["id"]) if role is Role.coordinator else None

        async def add(js: Any) -> Person:
            people = People(await js.key_value(PEOPLE_BUCKET))
            return await people.add(email=email, name=name, role=role, school_id=school)

        return as_workspace(self.system, add)

    def link_for(self, email: str, seen: int) -> str:
        mails = eventually_sync(
            lambda: len(self.mailbox.to(email)) > seen and self.mailbox.to(email)
        )
        found = LINK.search(mails[-1].text)
        assert found is not None
        return found.group(0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    mailbox = MailBox().start()
    try:
        from yts_deploy.natsserver import free_port
        from yts_deploy.runner import SERVICES

        system = LocalSystem(
            state_dir=tmp_path_factory.mktemp("workspace-system"),
            nats_port=free_port(),
            http_ports={name: free_port() for name in SERVICES},
            workspace_port=free_port(),
            say=lambda line: None,
            extra_env={
                "workspace": {
                    "YTS_WORKSPACE_SMTP_PORT": str(mailbox.port),
                    # Many sign-ins from one client in a few minutes.
                    "YTS_WORKSPACE_LINK_REQUESTS_PER_QUARTER_HOUR": "100",
                }
            },
        )
        try:
            system.start()
            yield World(system, mailbox)
        finally:
            system.stop()
    finally:
        mailbox.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


def sign_in(world: World, browser: Any, person: Person, lang: str = "en") -> Any:
    """A new browser context signed in as ``person`` through the mailed link."""
    # The axe-core scan is injected as an inline script, which the pages' policy refuses.
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{world.url}/sign-in?lang={lang}")
    seen = len(world.mailbox.to(person.email))
    page.fill("#email", person.email)
    page.click("button[type=submit]")
    page.wait_for_selector(".panel")
    link = world.link_for(person.email, seen)
    page.goto(link)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    return page


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run()).violations")
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]


def shoot(page: Any, name: str) -> None:
    if os.environ.get("YTS_SAVE_WORKSPACE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"workspace-{name}.png"), full_page=True)


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
    coordinator = sign_in(world, browser, world.coordinator, "en")
    staff = sign_in(world, browser, world.staff, "en")
    assert staff.url.endswith("/staff")
    assert serious_violations(staff) == []
    shoot(staff, "staff")
    staff.goto(f"{world.url}/staff/people")
    assert serious_violations(staff) == []
    shoot(staff, "people")
    row = staff.locator("tr", has_text=world.coordinator.email)
    row.locator("button").click()
    assert "Access revoked" in staff.locator("main").inner_text()
    coordinator.goto(f"{world.url}/schools/{world.schools[0]['id']}")
    assert "/sign-in" in coordinator.url
    # No new link for a revoked account either.
    seen = len(world.mailbox.to(world.coordinator.email))
    coordinator.fill("#email", world.coordinator.email)
    coordinator.click("button[type=submit]")
    assert coordinator.locator("h1").inner_text() == "Check your mail"
    assert len(world.mailbox.to(world.coordinator.email)) == seen
