"""The dashboard in a real headless Chromium (Debian's chromium, driven by Playwright), served
by the real app under uvicorn on a loopback port, fed by a generated programme: signing in,
the indicator cards against their targets, the charts drawn with data, the table by district
and school, the filters, the kk / ru / en switch, and not one request leaving the machine.

Set ``YTS_SAVE_DASHBOARD_SCREENSHOT=1`` to also write the screenshot to docs/dashboard.png
(the README shows it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest

from tests.reporting.conftest import reporting_app
from tests.support.browser import chromium, needs_chromium, served_by_uvicorn
from tests.support.reporting_png import distinct_colours, png_size
from tests.support.reporting_programme import (
    Programme,
    consumers_caught_up,
    generate,
    publish,
)
from tests.support.services import ADMIN_TOKEN, eventually

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = [needs_chromium, pytest.mark.timeout(180)]


@dataclass
class Served:
    url: str
    programme: Programme


@pytest.fixture(scope="module")
async def dashboard_database_url(database_factory) -> str:
    return await database_factory("reporting_dashboard")


@pytest.fixture(scope="module")
def uvicorn_server(own_nats: str, dashboard_database_url: str) -> Iterator[str]:
    """The real app under uvicorn, in a thread with its own event loop."""
    with served_by_uvicorn(reporting_app(own_nats, dashboard_database_url)) as url:
        yield url


@pytest.fixture(scope="module")
async def served(own_nats: str, uvicorn_server: str) -> Served:
    programme = generate(sessions=1200, seed=2025)
    nc = await nats.connect(own_nats)
    try:
        js = nc.jetstream()
        await publish(js, programme.events)
        await eventually(lambda: consumers_caught_up(js), timeout=120, interval=0.2)
    finally:
        await nc.close()
    return Served(uvicorn_server, programme)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[object]:
    async with chromium() as launched:
        yield launched


async def test_the_dashboard_renders_cards_charts_and_table_with_data_offline(
    served: Served, browser, tmp_path: Path
) -> None:
    p = served.programme
    expected = p.expected()
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    requests: list[str] = []
    failures: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failures.append(request.url))

    first = await page.goto(served.url + "/?lang=en")
    assert first is not None
    assert first.status == 401  # not signed in: the sign-in form
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("form[action='/login'] button")
    await page.wait_for_selector("#card-trainers_enrolled")

    cards = page.locator("article.card")
    assert await cards.count() == 9
    enrolled = await page.text_content("#card-trainers_enrolled .card-value")
    assert enrolled is not None
    assert enrolled.replace(",", "") == str(expected["trainers_enrolled"])
    sessions = await page.text_content("#card-sessions_delivered .card-value")
    assert sessions is not None
    assert sessions.replace(",", "") == str(expected["sessions_delivered"])
    target = await page.text_content("#card-sessions_delivered .card-target")
    assert target is not None
    assert "Programme target 1,500" in target
    peers_hint = await page.text_content("#card-peer_participations .card-hint")
    assert peers_hint is not None
    assert "participations, not distinct people" in peers_hint

    for chart, count in (
        ("#chart-sessions", len(p.months())),
        ("#chart-participations", len(p.months())),
        ("#chart-trainers", 3 * 3),
    ):
        heights = await page.eval_on_selector_all(
            f"{chart} rect.bar", "bars => bars.map(b => b.getBoundingClientRect().height)"
        )
        assert len(heights) == count, chart
        assert sum(1 for h in heights if h > 0) >= count // 2, f"{chart}: {heights}"
    # The value axis: exact round steps from 0, its last tick the chart's top, so the tallest
    # bar stops at or below the top gridline and a bar of a tick's value meets its gridline.
    ticks = await page.eval_on_selector_all(
        "#chart-sessions text.tick", "labels => labels.map(t => t.textContent)"
    )
    numbers = [int(label.replace("\u202f", "")) for label in ticks]
    assert numbers == [numbers[1] * i for i in range(len(numbers))], ticks
    assert str(numbers[1]).rstrip("0") in ("1", "2", "5"), ticks
    tallest = max(
        p.expected(start=first, end=last)["sessions_delivered"]
        for first, last in map(p.month_bounds, p.months())
    )
    assert numbers[-2] < tallest <= numbers[-1], (ticks, tallest)
    top_gridline, top_bar = await page.evaluate(
        """() => [
            Math.min(...[...document.querySelectorAll('#chart-sessions line.grid')]
                .map(l => l.getBoundingClientRect().top)),
            Math.min(...[...document.querySelectorAll('#chart-sessions rect.bar')]
                .map(b => b.getBoundingClientRect().top)),
        ]"""
    )
    assert top_bar >= top_gridline - 0.5
    subtitle = await page.text_content("#subtitle")
    assert subtitle == "Programme indicators 2023\N{EN DASH}2025, built from the platform's events"
    fill = await page.eval_on_selector(
        "#chart-sessions rect.bar", "bar => getComputedStyle(bar).fill"
    )
    assert fill == "rgb(31, 111, 159)", "the service's stylesheet did not apply"

    districts = page.locator("#by-district-and-school tbody tr.district")
    schools = page.locator("#by-district-and-school tbody tr.school")
    assert await districts.count() == 8
    assert await schools.count() == 35

    screenshot = await page.screenshot(full_page=True)
    (tmp_path / "dashboard.png").write_bytes(screenshot)
    width, height = png_size(screenshot)
    assert width == 1280
    assert height > 900
    chart = await page.locator("#chart-trainers").screenshot()
    assert distinct_colours(chart) >= 8, "the trainers chart looks blank"
    if os.environ.get("YTS_SAVE_DASHBOARD_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "dashboard.png", DOCS / "dashboard.png")

    origin = served.url + "/"
    outside = [url for url in requests if not url.startswith((origin, "data:"))]
    assert outside == [], "the dashboard asked for something off this machine"
    assert failures == []
    assert any(url.startswith(served.url + "/assets/dashboard.css") for url in requests)
    await context.close()


async def test_the_filters_and_the_language_switch_change_what_is_shown(
    served: Served, browser
) -> None:
    p = served.programme
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(served.url + "/?lang=en")
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("form[action='/login'] button")
    await page.wait_for_selector("#card-trainers_enrolled")

    await page.select_option("select[name=district]", "Bostandyk")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**district=Bostandyk**")
    enrolled = await page.text_content("#card-trainers_enrolled .card-value")
    assert enrolled is not None
    assert int(enrolled.replace(",", "")) == p.expected(district="Bostandyk")["trainers_enrolled"]
    assert await page.locator("#by-district-and-school tbody tr.district").count() == 1

    await page.click("a[data-lang=ru]")
    await page.wait_for_url("**lang=ru**")
    assert await page.text_content("#title") == "Школа молодых тренеров"
    assert await page.get_attribute("html", "lang") == "ru"
    label = await page.text_content("#card-sessions_delivered .card-label")
    assert label == "Проведено сессий"
    assert "district=Bostandyk" in page.url  # the filters survive the switch
    ru_value = await page.text_content("#card-trainers_enrolled .card-value")
    assert ru_value == enrolled.replace(",", "\u00a0")

    await page.click("a[data-lang=kk]")
    await page.wait_for_url("**lang=kk**")
    assert await page.text_content("#title") == "Жас тренерлер мектебі"
    assert await page.text_content("#card-sessions_delivered .card-label") == (
        "Өткізілген сессиялар"
    )
    legend = await page.text_content("#chart-trainers")
    assert legend is not None
    assert "Қыздар" in legend

    await page.click("a[data-lang=en]")
    await page.wait_for_url("**lang=en**")
    assert await page.text_content("#card-sessions_delivered .card-label") == ("Sessions delivered")
    await page.click("form.logout button")
    await page.wait_for_selector("#token")  # signed out: the sign-in form again
    await context.close()


async def test_a_wrong_token_is_refused_on_the_sign_in_form(served: Served, browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(served.url + "/?lang=ru")
    await page.fill("#token", "yts_not-a-token")
    await page.click("form[action='/login'] button")
    await page.wait_for_selector(".error")
    error = await page.text_content(".error")
    assert error is not None
    assert "Токен недействителен" in error
    assert await context.cookies() == []
    await context.close()
