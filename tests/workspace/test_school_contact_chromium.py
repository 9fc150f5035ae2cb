"""A school's coordinator contact in a real Chromium against `yts up`'s processes: staff see it
on the school's page and change it (an address mail cannot go to is said next to the field in
kk, ru and en, and nothing changes; corrected, enrolment keeps the new contact); the school's
coordinator sees where the programme's mail goes on their mail page and cannot open or post the
staff's form; both pages pass the axe-core scan in each language."""

# ruff: noqa: RUF001 (Kazakh and Russian words as a person reads them)
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import needs_chromium
from tests.workspace.browsing import World, serious_violations, shoot, sign_in, submit

pytestmark = [needs_chromium, pytest.mark.timeout(600)]

WORDS = {
    "en": {
        "problem": "There is a problem",
        "email": "Enter an email address like name@school.kz",
        "change": "Change the coordinator's contact",
        "changed": "The contact is changed: the next mail goes to the new address.",
        "language": "English",
        "goes_to": "The programme's mail goes to",
        "refused": "You cannot open this page",
    },
    "ru": {
        "problem": "Есть ошибка",
        "email": "Введите адрес почты в виде name@school.kz",
        "change": "Изменить контакт координатора",
        "changed": "Контакт изменён: следующее письмо придёт на новый адрес.",
        "language": "Русский",
        "goes_to": "Письма программы приходят сюда",
        "refused": "Эта страница вам недоступна",
    },
    "kk": {
        "problem": "Қате бар",
        "email": "Пошта мекенжайын name@school.kz түрінде енгізіңіз",
        "change": "Үйлестірушінің байланыс деректерін өзгерту",
        "changed": "Байланыс деректері өзгертілді: келесі хат жаңа мекенжайға барады.",
        "language": "Қазақша",
        "goes_to": "Бағдарлама хаттары осы мекенжайға барады",
        "refused": "Бұл бет сізге қолжетімсіз",
    },
}
LOCALES = ("kk", "ru", "en")  # the order of the form's radios


@pytest.fixture
def school(world: World) -> Iterator[dict[str, Any]]:
    """The coordinator's school, its contact put back afterwards for the other tests."""
    found = world.schools[0]
    path = f"/v1/schools/{found['id']}/coordinator"
    registered = world.call("GET", "enrolment", path)
    yield found
    world.call("PUT", "enrolment", path, registered)


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_staff_change_a_schools_contact_and_its_coordinator_sees_where_mail_goes(
    world: World, browser: Any, school: dict[str, Any], lang: str
) -> None:
    words = WORDS[lang]
    contact = f"/v1/schools/{school['id']}/coordinator"
    before = world.call("GET", "enrolment", contact)
    page = sign_in(world, browser, world.staff, lang)
    page.goto(f"{world.url}/staff/schools/{school['id']}")
    shown = page.locator("#contact").inner_text()
    assert before["name"] in shown
    assert before["email"] in shown
    assert serious_violations(page) == []
    page.click(f'main a:has-text("{words["change"]}")')
    page.wait_for_url(re.compile(r"/staff/schools/[0-9a-f-]+/contact$"))
    assert page.locator("h1").inner_text() == words["change"]
    assert page.locator("#email").input_value() == before["email"]
    assert serious_violations(page) == []
    # Wrong input: an address mail cannot go to; what was typed stays, nothing changes.
    name = f"Saule Omarova ({lang})"
    page.fill("#name", name)
    page.fill("#email", "saule at school12")
    submit(page)
    assert page.locator(".error-summary h2").inner_text() == words["problem"]
    assert words["email"] in page.locator("#email-error").inner_text()
    assert page.locator("#name").input_value() == name
    assert serious_violations(page) == []
    shoot(page, f"school-contact-errors-{lang}")
    assert world.call("GET", "enrolment", contact) == before
    # Corrected: enrolment keeps the new contact and the school's page shows it.
    email = f"saule-{lang}@school12.kz"
    page.fill("#email", email)
    page.check(f"#locale-{LOCALES.index(lang) + 1}")
    submit(page)
    page.wait_for_url(re.compile(r"/staff/schools/[0-9a-f-]+\?contact_changed=1$"))
    assert words["changed"] in page.locator("main").inner_text()
    shown = page.locator("#contact").inner_text()
    assert name in shown
    assert email in shown
    assert words["language"] in shown
    assert world.call("GET", "enrolment", contact) == {"name": name, "email": email, "locale": lang}
    page.context.close()
    # The school's coordinator reads it on their mail page.
    coordinator = sign_in(world, browser, world.coordinator, lang)
    coordinator.goto(f"{world.url}/schools/{school['id']}/mail")
    said = coordinator.locator("#contact").inner_text()
    assert words["goes_to"] in said
    assert email in said
    assert serious_violations(coordinator) == []
    coordinator.context.close()


def test_a_coordinator_can_neither_open_nor_post_the_contact_form(
    world: World, browser: Any, school: dict[str, Any]
) -> None:
    contact = f"/v1/schools/{school['id']}/coordinator"
    before = world.call("GET", "enrolment", contact)
    page = sign_in(world, browser, world.coordinator, "en")
    form = f"{world.url}/staff/schools/{school['id']}/contact"
    response = page.goto(form)
    assert response.status == 403
    assert page.locator("h1").inner_text() == WORDS["en"]["refused"]
    # With the coordinator's own valid CSRF token, refused all the same.
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    refused = page.request.post(
        form,
        form={"csrf_token": csrf, "name": "Forger", "email": "forger@example.kz", "locale": "en"},
    )
    assert refused.status == 403
    assert world.call("GET", "enrolment", contact) == before
    page.context.close()
