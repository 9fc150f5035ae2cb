"""What the workspace's browser tests share: the system under test (``World``: `yts up`'s
processes, a cohort, two schools, a coordinator and a member of staff), signing in through a
mailed link, the axe-core scan and the screenshots for docs/workspace.md."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from yts_chassis.access import Role
from yts_deploy.natsconfig import WORKSPACE, admin_connect
from yts_deploy.runner import LocalSystem
from yts_workspace.buckets import PEOPLE_BUCKET
from yts_workspace.people import People, Person

from tests.support.notifications_mailbox import MailBox
from tests.support.notifications_partner import Partner
from tests.support.services import eventually_sync

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"
# The pages docs/workspace.md shows (one language each, mostly English).
SHOWN = frozenset(
    {
        "trainers-en",
        "trainers-kk",
        "enrol-errors-en",
        "completions-en",
        "plan-errors-en",
        "session-ru",
        "sessions-en",
        "figures-en",
        "name-errors-en",
        "mail-en",
        "staff",
        "people",
        "schools-en",
        "school-errors-en",
        "school-en",
        "school-contact-errors-en",
        "cohorts-errors-en",
        "webhook-errors-en",
        "webhooks-en",
        "delivery-en",
        "erase-en",
        "erased-en",
        "dead-letters-en",
        "audit-en",
    }
)
LINK = re.compile(r"http://\S+/sign-in/link\?token=\S+")


def as_workspace(system: LocalSystem, action: Any) -> Any:
    """``action(js)`` connected as the workspace's NATS user (the only one that may write its
    buckets), as an operator's tool would."""
    return as_user(system, WORKSPACE, lambda nc: action(nc.jetstream()))


def as_user(system: LocalSystem, user: str, action: Any) -> Any:
    """``action(nc)`` connected as one of the platform's NATS users."""

    async def run() -> Any:
        assert system.nats is not None
        nc = await admin_connect(system.nats.url, user, system.nats_passwords[user])
        try:
            return await action(nc)
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

    def call(self, method: str, service: str, path: str, body: Any = None) -> Any:
        """A service's API as the admin (what a test sets up without the pages)."""
        url = self.system.services[service].url
        response = httpx.request(method, f"{url}{path}", json=body, headers=self.admin, timeout=15)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def enrol(self, first_name: str, last_name: str, school: int = 0) -> dict[str, Any]:
        """A trainer enrolled through the API (with consent), once sessions has heard of it."""
        trainer = self.call(
            "POST",
            "enrolment",
            "/v1/trainers",
            {
                "school_id": self.schools[school]["id"],
                "cohort_id": self.cohort["id"],
                "first_name": first_name,
                "last_name": last_name,
                "grade": 10,
                "gender": "female",
                "languages": ["kk"],
                "guardian_consent": {
                    "guardian_name": "Guardian",
                    "given_on": self.cohort["starts_on"],
                },
                "enrolled_on": self.cohort["starts_on"],
            },
        )
        sessions = self.system.services["sessions"].url
        eventually_sync(
            lambda: (
                httpx.get(
                    f"{sessions}/v1/trainers/{trainer['id']}/progress", headers=self.admin
                ).status_code
                == 200
            ),
            timeout=30,
            interval=0.3,
        )
        return dict(trainer)

    def link_for(self, email: str, seen: int) -> str:
        mails = eventually_sync(
            lambda: len(self.mailbox.to(email)) > seen and self.mailbox.to(email)
        )
        found = LINK.search(mails[-1].text)
        assert found is not None
        return found.group(0)


class PartnerOnLoopback:
    """A partner's webhook receiver (``tests.support``'s Partner, on 127.0.0.1) served from an
    event loop in a thread of its own, for the browser tests' synchronous code."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.partner = self._run(Partner(name).start())

    def _run(self, step: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(step, self.loop).result(timeout=15)

    def __enter__(self) -> Partner:
        return self.partner

    def __exit__(self, *_: object) -> None:
        self._run(self.partner.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def sign_in(world: World, browser: Any, person: Person | str, lang: str = "en") -> Any:
    """A new browser context signed in as ``person`` (or the account of an address) through
    the mailed link."""
    email = person if isinstance(person, str) else person.email
    # The axe-core scan is injected as an inline script, which the pages' policy refuses.
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{world.url}/sign-in?lang={lang}")
    seen = len(world.mailbox.to(email))
    page.fill("#email", email)
    page.click("button[type=submit]")
    page.wait_for_selector(".panel")
    link = world.link_for(email, seen)
    page.goto(link)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    return page


def submit(page: Any) -> None:
    """Press the last submit button of the page's form and wait for the answer."""
    page.click("main form[method=post] button[type=submit] >> nth=-1")
    page.wait_for_load_state()


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run()).violations")
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]


def shoot(page: Any, name: str) -> None:
    if os.environ.get("YTS_SAVE_WORKSPACE_SCREENSHOTS") == "1" and name in SHOWN:
        page.screenshot(path=str(DOCS / f"workspace-{name}.png"), full_page=True)
