"""Programme staff's dead letters and audit in a real Chromium against `yts up`'s processes, in
kk, ru and en: an event no service can read is listed by every service that consumes it, with
the reason; applying it again fails and it stays, the reason said; a letter whose fault is gone
(its event applied before) is applied again, nothing changes twice, and it leaves the list.
The audit names who changed what: a member of staff by name and role, a static token by its
label, filtered by school and by person. (Coordinators are refused both pages, and both pass
the axe-core scan in each language, in test_staff_chromium.py.)

Set ``YTS_SAVE_WORKSPACE_SCREENSHOTS=1`` to write the pages to docs/ (docs/workspace.md)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from yts_chassis.access import Role, StaticTokens
from yts_deploy.natsconfig import PROVISIONER, WORKSPACE
from yts_deploy.runner import LocalSystem

from tests.support.browser import needs_chromium
from tests.support.services import eventually_sync
from tests.workspace.browsing import World, as_user, serious_violations, shoot, sign_in, submit

pytestmark = [needs_chromium, pytest.mark.timeout(600)]

WORDS = {
    "en": {
        "still": "still cannot apply",
        "before": "had been applied before: nothing changed",
        "registered": "School registered",
        "staff": "Programme staff",
        "token": "token",
    },
    "ru": {
        "still": "всё ещё не может применить",
        "before": "уже было применено: ничего не изменилось",
        "registered": "Школа зарегистрирована",
        "staff": "Сотрудник программы",
        "token": "токен",
    },
    "kk": {
        "still": "әлі қолдана алмайды",
        "before": "бұрын қолданылған: ештеңе өзгерген жоқ",
        "registered": "Мектеп тіркелді",
        "staff": "Бағдарлама қызметкері",
        "token": "токен",
    },
}
CONSUMERS_OF_ENROLMENT = ("sessions", "notifications", "reporting", "credentials")


def publish_unreadable_cohort(system: LocalSystem) -> str:
    """A cohort event whose data no reader accepts (no dates), published by enrolment's own
    user as a faulty release of it would: every consumer of enrolment's events sets it aside."""
    event_id = str(uuid.uuid4())
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/yts/enrolment",
        "ce-type": "yts.enrolment.cohort.opened.v1",
        "ce-time": "2025-09-01T04:00:00Z",
        "Content-Type": "application/json",
        "Nats-Msg-Id": event_id,
    }
    body = json.dumps({"cohort_id": str(uuid.uuid4()), "name": "2025-2026"}).encode()

    async def publish(nc: Any) -> None:
        await nc.jetstream().publish("yts.enrolment.cohort.opened.v1", body, headers=headers)

    as_user(system, "enrolment", publish)
    return event_id


def set_aside_an_applied_event(system: LocalSystem) -> str:
    """The last school registered, as sessions' roster would have dead-lettered it had a fault
    (since fixed) refused it while a replica applied it: its event was applied already."""

    async def read(nc: Any) -> Any:
        return await nc.jetstream().get_msg(
            "YTS_ENROLMENT", subject="yts.enrolment.school.registered.v1"
        )

    event = as_user(system, WORKSPACE, read)
    headers = {
        **{k: v for k, v in event.headers.items() if k.startswith("ce-") or k == "Content-Type"},
        "Nats-Msg-Id": str(uuid.uuid4()),
        "yts-dlq-consumer": "sessions-roster",
        "yts-dlq-original-subject": event.subject,
        "yts-dlq-reason": "the roster's database refused it (fixed since)",
        "yts-dlq-deliveries": "8",
    }

    async def publish(nc: Any) -> None:
        await nc.jetstream().publish(
            f"yts.dlq.sessions.{event.subject}", event.data, headers=headers
        )

    as_user(system, "sessions", publish)
    return str(event.headers["ce-id"])


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_staff_see_every_services_dead_letters_and_apply_one_again_once_fixed(
    world: World, browser: Any, lang: str
) -> None:
    words = WORDS[lang]
    unreadable = publish_unreadable_cohort(world.system)
    applied_before = set_aside_an_applied_event(world.system)
    page = sign_in(world, browser, world.staff, lang)

    def listed() -> bool:
        page.goto(f"{world.url}/staff/dead-letters")
        return page.locator("tr", has_text=unreadable).count() == len(CONSUMERS_OF_ENROLMENT)

    eventually_sync(listed, timeout=30, interval=0.5)
    for row in page.locator("tr", has_text=unreadable).all():
        assert "data invalid for yts.enrolment.cohort.opened.v1" in row.inner_text()
        assert "starts_on" in row.inner_text()
    assert serious_violations(page) == []
    shoot(page, f"dead-letters-{lang}")

    # Sessions still cannot read it: it stays, and the page says why.
    sessions_row = page.locator("tr[id^=letter-sessions-]", has_text=unreadable)
    sessions_row.locator("button").click()
    page.wait_for_load_state()
    alert = page.locator("[role=alert]").first.inner_text()
    assert words["still"] in alert
    assert "starts_on" in alert
    assert page.locator("tr[id^=letter-sessions-]", has_text=unreadable).count() == 1
    assert serious_violations(page) == []

    # The one whose event was applied before: applied again, nothing changes, and it goes.
    page.locator("tr", has_text=applied_before).locator("button").click()
    page.wait_for_url(re.compile(r"/staff/dead-letters\?outcome=duplicate$"))
    assert words["before"] in page.locator("[role=status]").inner_text()
    assert page.locator("tr", has_text=applied_before).count() == 0
    page.context.close()


def test_the_audit_names_who_changed_what_and_filters_by_school_and_person(
    world: World, browser: Any
) -> None:
    words = WORDS["en"]
    page = sign_in(world, browser, world.staff, "en")
    # Dana (staff) registers a school through the workspace.
    page.goto(f"{world.url}/staff/schools/new")
    name = f"Lyceum No. {uuid.uuid4().int % 900 + 100}"
    page.fill("#name", name)
    page.select_option("#district", "Bostandyk")
    page.check("#languages-1")
    page.fill("#coordinator-name", "Zhanar T.")
    page.fill("#coordinator-email", "zhanar@lyceum.kz")
    submit(page)
    page.wait_for_url(re.compile(r"/staff/schools/[0-9a-f-]+\?registered=1$"))
    school_id = page.url.split("/staff/schools/")[1].split("?")[0]
    # A partner's script registers another with a static token.
    token = as_user(
        world.system,
        PROVISIONER,
        lambda nc: _token(nc, "Methodological centre import"),
    )
    imported = f"Gymnasium No. {uuid.uuid4().int % 900 + 100}"
    made = httpx.post(
        f"{world.system.services['enrolment'].url}/v1/schools",
        json={
            "name": imported,
            "district": "Alatau",
            "languages": ["ru"],
            "coordinator": {"name": "Deputy", "email": "deputy@gym.kz", "locale": "ru"},
        },
        headers={"Authorization": f"Bearer {token.token}"},
        timeout=15,
    )
    assert made.status_code == 201, made.text

    def row_of(school: str) -> Any:
        page.goto(f"{world.url}/staff/audit")
        row = page.locator("tbody tr", has_text=school)
        return row if row.count() == 1 else None

    dana_row = eventually_sync(lambda: row_of(name), timeout=30, interval=0.5).inner_text()
    assert words["registered"] in dana_row
    assert world.staff.name in dana_row
    assert words["staff"] in dana_row
    token_row = eventually_sync(lambda: row_of(imported), timeout=30, interval=0.5).inner_text()
    assert "Methodological centre import" in token_row
    assert f"({words['token']})" in token_row
    assert serious_violations(page) == []
    shoot(page, "audit-en")

    # Filtered by school: only that school's changes.
    page.select_option("#school_id", school_id)
    page.click("main form[method=get] button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("tbody tr")
    assert rows.count() >= 1
    assert all(name in text for text in rows.all_inner_texts())
    # Filtered by person: only the token's.
    page.goto(f"{world.url}/staff/audit")
    page.select_option("#actor", f"token:{token.record.id}")
    page.click("main form[method=get] button[type=submit]")
    page.wait_for_load_state()
    texts = page.locator("tbody tr").all_inner_texts()
    assert len(texts) == 1
    assert imported in texts[0]
    assert serious_violations(page) == []
    page.context.close()


async def _token(nc: Any, label: str) -> Any:
    return await (await StaticTokens.of(nc.jetstream())).create(Role.admin, label)
