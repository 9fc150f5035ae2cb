"""Programme staff's pages in a real Chromium against `yts up`'s processes: a school registered
and its coordinator invited (who then signs in to that school's pages), in kk, ru and en; a
cohort opened; a webhook subscription refused for a private address (notifications refuses it
before connecting anywhere), then made for a partner's receiver on loopback, its failed delivery
retried from the log, re-enabled after the partner answered 410 Gone, deleted; a trainer's
personal data erased after a confirmation naming what goes; a coordinator refused every staff
page; every staff page passes the axe-core scan in each language.

Set ``YTS_SAVE_WORKSPACE_SCREENSHOTS=1`` to write the main pages to docs/ (docs/workspace.md)."""

# ruff: noqa: RUF001 (Kazakh and Russian words as a person reads them)
from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.support.browser import needs_chromium
from tests.support.services import eventually_sync
from tests.workspace.browsing import (
    PartnerOnLoopback,
    World,
    serious_violations,
    shoot,
    sign_in,
    submit,
)

pytestmark = [needs_chromium, pytest.mark.timeout(600)]

WORDS = {
    "en": {
        "problem": "There is a problem",
        "empty": "This cannot be left empty",
        "email": "Enter an email address like name@school.kz",
        "choose_one": "Choose at least one",
        "registered": "The school is registered.",
        "invited": "The account is made and a sign-in link was sent.",
        "never": "Not yet",
        "active": "Active",
        "taken": "This address already has an account",
        "refused": "You cannot open this page",
        "public_only": "webhooks go to public addresses only",
        "confirm": "Tick to confirm that this is the right trainer",
        "erased": "Personal data erased",
    },
    "ru": {
        "problem": "Есть ошибка",
        "empty": "Это поле нужно заполнить",
        "email": "Введите адрес почты в виде name@school.kz",
        "choose_one": "Выберите хотя бы один вариант",
        "registered": "Школа зарегистрирована.",
        "invited": "Учётная запись создана, ссылка для входа отправлена.",
        "never": "Ещё не входил(а)",
        "active": "Активен",
        "taken": "У этого адреса уже есть учётная запись",
        "refused": "Эта страница вам недоступна",
        "public_only": "вебхуки отправляются только на публичные адреса",
        "confirm": "Отметьте, что это нужный тренер",
        "erased": "Персональные данные удалены",
    },
    "kk": {
        "problem": "Қате бар",
        "empty": "Бұл өрісті толтыру керек",
        "email": "Пошта мекенжайын name@school.kz түрінде енгізіңіз",
        "choose_one": "Кемінде біреуін таңдаңыз",
        "registered": "Мектеп тіркелді.",
        "invited": "Есептік жазба жасалды, кіру сілтемесі жіберілді.",
        "never": "Әлі кірмеген",
        "active": "Белсенді",
        "taken": "Бұл мекенжайдың есептік жазбасы бар",
        "refused": "Бұл бет сізге қолжетімсіз",
        "public_only": "вебхуктар тек жария мекенжайларға жіберіледі",
        "confirm": "Бұл дұрыс тренер екенін белгілеңіз",
        "erased": "Жеке деректер өшірілді",
    },
}


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_staff_register_a_school_and_invite_its_coordinator_who_then_signs_in_to_it(
    world: World, browser: Any, lang: str
) -> None:
    words = WORDS[lang]
    page = sign_in(world, browser, world.staff, lang)
    page.goto(f"{world.url}/staff/schools")
    assert serious_violations(page) == []
    page.click("main a.button")
    page.wait_for_url(re.compile(r"/staff/schools/new$"))
    assert serious_violations(page) == []
    # Wrong input: no name, no language, an address mail cannot go to.
    page.select_option("#district", "Medeu")
    page.fill("#coordinator-name", "Saule A.")
    page.fill("#coordinator-email", "saule at school")
    submit(page)
    assert page.locator(".error-summary h2").inner_text() == words["problem"]
    assert words["empty"] in page.locator("#name-error").inner_text()
    assert words["choose_one"] in page.locator("#languages-error").inner_text()
    assert words["email"] in page.locator("#coordinator-email-error").inner_text()
    assert page.locator("#coordinator-name").input_value() == "Saule A."
    assert serious_violations(page) == []
    shoot(page, f"school-errors-{lang}")
    # Corrected: registered.
    name = f"Gymnasium No. 7 ({lang})"
    page.fill("#name", name)
    page.check("#languages-1")
    page.fill("#coordinator-email", f"saule-{lang}@gymnasium7.kz")
    submit(page)
    page.wait_for_url(re.compile(r"/staff/schools/[0-9a-f-]+\?registered=1$"))
    school_id = page.url.split("/staff/schools/")[1].split("?")[0]
    assert page.locator("h1").inner_text() == name
    assert words["registered"] in page.locator("main").inner_text()
    # An address that has an account is said next to the field; nothing is made.
    page.fill("#name", "Someone Else")
    page.fill("#email", world.coordinator.email)
    submit(page)
    assert words["taken"] in page.locator("#email-error").inner_text()
    # Invited: an account of this school, its sign-in link mailed.
    email = f"deputy-{lang}@gymnasium7.kz"
    page.fill("#name", f"Saule ({lang})")
    page.fill("#email", email)
    submit(page)
    assert words["invited"] in page.locator("main").inner_text()
    row = page.locator("tr", has_text=email)
    assert words["active"] in row.inner_text()
    assert words["never"] in row.inner_text()
    assert serious_violations(page) == []
    # The coordinator signs in by a link and lands on this school's pages.
    coordinator = sign_in(world, browser, email, lang)
    assert coordinator.url.endswith(f"/schools/{school_id}")
    coordinator.context.close()
    page.reload()
    assert words["never"] not in page.locator("tr", has_text=email).inner_text()
    page.goto(f"{world.url}/staff/schools")
    assert page.locator("tr", has_text=name).count() == 1
    shoot(page, f"schools-{lang}")
    page.goto(f"{world.url}/staff/schools/{school_id}")
    shoot(page, f"school-{lang}")
    page.context.close()


def test_staff_open_a_cohort_and_see_its_trainers_by_school(world: World, browser: Any) -> None:
    page = sign_in(world, browser, world.staff, "en")
    page.goto(f"{world.url}/staff/cohorts")
    assert page.locator("tr", has_text=world.cohort["name"]).count() == 1
    # A name that is not two years, then years that are not the dates'.
    page.fill("#name", "2031/32")
    page.fill("#starts_on", "2031-09-01")
    page.fill("#ends_on", "2032-06-30")
    submit(page)
    assert "like 2025-2026" in page.locator("#name-error").inner_text()
    assert serious_violations(page) == []
    shoot(page, "cohorts-errors-en")
    page.fill("#name", "2030-2031")
    submit(page)
    assert "first and last day" in page.locator("#name-error").inner_text()
    page.fill("#name", "2031-2032")
    submit(page)
    page.wait_for_url(re.compile(r"/staff/cohorts/[0-9a-f-]+\?opened=1$"))
    assert page.locator("h1").inner_text() == "Cohort 2031-2032"
    assert "No trainer is enrolled in this cohort yet." in page.locator("main").inner_text()
    # The same name again is refused next to the field.
    page.goto(f"{world.url}/staff/cohorts")
    page.fill("#name", "2031-2032")
    page.fill("#starts_on", "2031-09-01")
    page.fill("#ends_on", "2032-06-30")
    submit(page)
    assert "already taken" in page.locator("#name-error").inner_text()
    # A cohort with trainers: counted by school.
    world.enrol("Counted", "Cohort-Trainer")
    page.goto(f"{world.url}/staff/cohorts/{world.cohort['id']}")
    row = page.locator("tr", has_text=world.schools[0]["name"])
    assert row.count() == 1
    assert serious_violations(page) == []
    page.context.close()


def test_a_webhook_to_a_private_address_is_refused_next_to_the_field_and_nothing_is_made(
    world: World, browser: Any
) -> None:
    page = sign_in(world, browser, world.staff, "en")
    page.goto(f"{world.url}/staff/webhooks/new")
    page.fill("#partner", "Regional Office")
    page.fill("#url", "https://10.20.30.40/hooks")
    page.fill("#event_types", "yts.private.>\nyts.enrolment.trainer.enrolled.v1")
    submit(page)
    assert page.locator(".error-summary h2").inner_text() == "There is a problem"
    assert WORDS["en"]["public_only"] in page.locator("#url-error").inner_text()
    assert "public events" in page.locator("#event_types-error").inner_text()
    assert page.locator("#url").input_value() == "https://10.20.30.40/hooks"
    assert serious_violations(page) == []
    shoot(page, "webhook-errors-en")
    # Neither is a host name that is this machine's, nor plain http elsewhere.
    for url, said in (
        ("https://localhost.localdomain:1/x#part", "part after #"),
        ("http://partner.example.org/hooks", "https:// only"),
        ("https://user:secret@partner.example.org/hooks", "user name and password"),
    ):
        page.fill("#url", url)
        page.fill("#event_types", "yts.milestones.>")
        submit(page)
        assert said in page.locator("#url-error").inner_text(), url
    page.goto(f"{world.url}/staff/webhooks")
    assert "10.20.30.40" not in page.locator("main").inner_text()
    page.context.close()


def test_a_failed_webhook_delivery_is_retried_from_the_log_and_a_disabled_one_enabled(
    world: World, browser: Any
) -> None:
    page = sign_in(world, browser, world.staff, "en")
    with PartnerOnLoopback("city-methodological-centre") as partner:
        partner.answer(then=500)
        page.goto(f"{world.url}/staff/webhooks/new")
        assert serious_violations(page) == []
        page.fill("#partner", "City Methodological Centre")
        page.fill("#url", partner.url)
        page.fill("#event_types", "yts.enrolment.trainer.enrolled.v1")
        submit(page)
        assert page.locator("h1").inner_text() == "The subscription is added"
        assert page.locator("#secret").inner_text().startswith("whsec_")
        assert serious_violations(page) == []
        page.click("text=Deliveries")
        log = page.url
        # An event the partner's server fails twice: the delivery fails.
        world.enrol("Webhook", "Trainee")

        def failed() -> bool:
            page.goto(log)
            return page.locator("tbody .tag").all_inner_texts() == ["Not delivered"]

        eventually_sync(failed, timeout=30, interval=0.5)
        assert serious_violations(page) == []
        page.locator("tbody tr a").first.click()
        page.wait_for_url(re.compile(r"/staff/deliveries/[0-9a-f-]+$"))
        attempts = page.locator("tbody tr")
        assert attempts.count() == 2
        assert "HTTP 500" in attempts.nth(1).inner_text()
        assert "Failed, no more attempts" in attempts.nth(1).inner_text()
        assert serious_violations(page) == []
        shoot(page, "delivery-en")
        # The partner's server is mended: sent again from the log, delivered.
        partner.answer(then=200)
        page.click("text=Send it again")
        assert "It will be sent again now." in page.locator("main").inner_text()

        def delivered() -> bool:
            page.reload()
            return page.locator("dl .tag").inner_text() == "Delivered"

        eventually_sync(delivered, timeout=30, interval=0.5)
        assert page.locator("tbody tr").count() == 3
        assert page.locator("button", has_text="Send it again").count() == 0
        # The partner answers 410 Gone: disabled; staff enable it again.
        partner.answer(then=410)
        world.enrol("Webhook", "Second")

        def disabled() -> bool:
            page.goto(f"{world.url}/staff/webhooks")
            row = page.locator("tr", has_text="City Methodological Centre")
            return "Disabled by the partner" in row.inner_text()

        eventually_sync(disabled, timeout=30, interval=0.5)
        partner.answer(then=200)
        row = page.locator("tr", has_text="City Methodological Centre")
        row.locator("button", has_text="Enable again").click()
        assert "sends again" in page.locator("main").inner_text()
        row = page.locator("tr", has_text="City Methodological Centre")
        assert "Active" in row.inner_text()
        eventually_sync(lambda: _all_delivered(page, log), timeout=30, interval=0.5)
        # Deleted: nothing more is sent to it, its history stays.
        page.goto(f"{world.url}/staff/webhooks")
        row = page.locator("tr", has_text="City Methodological Centre")
        row.locator("button", has_text="Delete").click()
        assert "The subscription is deleted" in page.locator("main").inner_text()
        row = page.locator("tr", has_text="City Methodological Centre")
        assert "Deleted" in row.inner_text()
        assert row.locator("button").count() == 0
        assert serious_violations(page) == []
        shoot(page, "webhooks-en")
    page.context.close()


def _all_delivered(page: Any, log: str) -> bool:
    page.goto(log)
    statuses = page.locator("tbody tr .tag").all_inner_texts()
    return len(statuses) == 2 and set(statuses) == {"Delivered"}


def test_staff_erase_a_trainers_personal_data_after_a_confirmation_naming_what_goes(
    world: World, browser: Any
) -> None:
    trainer = world.enrol("Erasable", "Person")
    page = sign_in(world, browser, world.staff, "en")
    page.goto(f"{world.url}/staff/erasure")
    assert serious_violations(page) == []
    page.fill("#q", "erasable")
    page.click("main form button[type=submit]")
    page.locator("tbody a", has_text="Erasable Person").click()
    page.wait_for_url(re.compile(rf"/staff/erasure/{trainer['id']}$"))
    main = page.locator("main").inner_text()
    assert "You are about to erase the personal data of Erasable Person" in main
    assert "Guardian" in main  # the guardian's name goes too
    assert serious_violations(page) == []
    shoot(page, "erase-en")
    # Not confirmed: nothing erased.
    submit(page)
    assert WORDS["en"]["confirm"] in page.locator("#confirm-error").inner_text()
    admin = {"Authorization": f"Bearer {world.system.token}"}
    enrolment = world.system.services["enrolment"].url
    kept = httpx.get(f"{enrolment}/v1/trainers/{trainer['id']}", headers=admin).json()
    assert kept["first_name"] == "Erasable"
    page.check("#confirm-1")
    submit(page)
    page.wait_for_url(re.compile(r"\?erased=1$"))
    assert page.locator("h1").inner_text() == WORDS["en"]["erased"]
    assert "Erasable" not in page.locator("main").inner_text()
    assert serious_violations(page) == []
    shoot(page, "erased-en")
    erased = httpx.get(f"{enrolment}/v1/trainers/{trainer['id']}", headers=admin).json()
    assert erased["erased"] is True
    assert erased["first_name"] is None
    assert erased["guardian_name"] is None
    page.goto(f"{world.url}/staff/erasure?q=erasable")
    assert "No trainer has this name." in page.locator("main").inner_text()
    page.context.close()


STAFF_PAGES = (
    "/staff",
    "/staff/schools",
    "/staff/schools/new",
    "/staff/cohorts",
    "/staff/people",
    "/staff/webhooks",
    "/staff/webhooks/new",
    "/staff/deliveries",
    "/staff/erasure",
    "/staff/dead-letters",
    "/staff/audit",
)


def test_a_coordinator_is_refused_every_staff_page_and_post(world: World, browser: Any) -> None:
    page = sign_in(world, browser, world.coordinator, "ru")
    school = f"/staff/schools/{world.schools[0]['id']}"
    for path in (*STAFF_PAGES, school):
        response = page.goto(f"{world.url}{path}")
        assert response.status == 403, path
        assert page.locator("h1").inner_text() == WORDS["ru"]["refused"], path
    assert serious_violations(page) == []
    # A post with the coordinator's own valid CSRF token is refused all the same.
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    before = len(world.call("GET", "enrolment", "/v1/schools?limit=100")["items"])
    refused = page.request.post(
        f"{world.url}/staff/schools/new",
        form={
            "csrf_token": csrf,
            "name": "Forged School",
            "district": "Medeu",
            "languages": "kk",
            "coordinator.name": "Forger",
            "coordinator.email": "forger@example.kz",
            "coordinator.locale": "kk",
        },
    )
    assert refused.status == 403
    assert len(world.call("GET", "enrolment", "/v1/schools?limit=100")["items"]) == before
    invited = page.request.post(
        f"{world.url}{school}/coordinators",
        form={"csrf_token": csrf, "name": "Forger", "email": "forger@example.kz"},
    )
    assert invited.status == 403
    assert world.mailbox.to("forger@example.kz") == []
    page.context.close()


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_every_staff_page_passes_the_accessibility_scan(
    world: World, browser: Any, lang: str
) -> None:
    trainer = world.enrol("Scanned", f"Trainer-{lang}")
    page = sign_in(world, browser, world.staff, lang)
    found = {}
    for path in (
        *STAFF_PAGES,
        f"/staff/schools/{world.schools[0]['id']}",
        f"/staff/cohorts/{world.cohort['id']}",
        "/staff/erasure?q=Scanned",
        f"/staff/erasure/{trainer['id']}",
    ):
        response = page.goto(f"{world.url}{path}")
        assert response.status == 200, path
        found[path] = serious_violations(page)
    # The forms with every field wrong.
    for path in ("/staff/schools/new", "/staff/cohorts", "/staff/webhooks/new"):
        page.goto(f"{world.url}{path}")
        submit(page)
        assert page.locator(".error-summary").count() == 1, path
        found[f"{path} (errors)"] = serious_violations(page)
    # A delivery with its attempts, when the log has one.
    page.goto(f"{world.url}/staff/deliveries")
    if page.locator("tbody tr a").count():
        page.locator("tbody tr a").first.click()
        page.wait_for_url(re.compile(r"/staff/deliveries/[0-9a-f-]+$"))
        found["/staff/deliveries/{id}"] = serious_violations(page)
    assert {path: v for path, v in found.items() if v} == {}
    page.context.close()
