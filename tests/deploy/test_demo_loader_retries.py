"""The demo loader retries only what is retryable (a service away or busy, an event still on its
way) and for a bounded time; anything else stops the demo at once with what the service said."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from yts_deploy.demo.loader import DemoError, DemoLoader, Loaded

Answer = Callable[[httpx.Request], httpx.Response]


def loader_answering(answers: list[Answer | Exception], patience: float = 5.0) -> DemoLoader:
    """A loader whose one service answers with ``answers`` in turn (the last one forever)."""
    calls = iter(range(10_000))

    def handle(request: httpx.Request) -> httpx.Response:
        answer = answers[min(next(calls), len(answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url="http://svc")
    return DemoLoader({"enrolment": client, "reporting": client}, patience=patience)


def status(code: int, body: object = None) -> Answer:
    return lambda _request: httpx.Response(code, json=body if body is not None else {})


async def test_a_busy_or_unreachable_service_is_asked_again_until_it_answers() -> None:
    loader = loader_answering(
        [
            httpx.ConnectError("refused"),
            status(503),
            status(422, {"errors": [{"rule": "registered"}]}),  # the event is on its way
            status(201, {"id": "s1"}),
        ]
    )
    assert await loader.request("enrolment", "POST", "/v1/schools", {}) == {"id": "s1"}


async def test_a_refusal_that_waiting_cannot_change_stops_at_once() -> None:
    loader = loader_answering([status(409, {"title": "taken"}), status(201)])
    started = time.perf_counter()
    with pytest.raises(DemoError, match="answered 409"):
        await loader.request("enrolment", "POST", "/v1/schools", {})
    assert time.perf_counter() - started < 1.0


async def test_a_service_that_never_answers_is_given_up_after_the_patience() -> None:
    loader = loader_answering([httpx.ConnectError("refused")], patience=0.5)
    started = time.perf_counter()
    with pytest.raises(DemoError, match="does not answer"):
        await loader.request("enrolment", "GET", "/v1/schools")
    assert 0.5 <= time.perf_counter() - started < 3.0


async def test_a_service_busy_past_the_patience_reports_its_last_answer() -> None:
    loader = loader_answering([status(503, {"title": "busy"})], patience=0.5)
    with pytest.raises(DemoError, match="answered 503"):
        await loader.request("enrolment", "GET", "/v1/schools")


async def test_reporting_not_caught_up_in_time_is_an_answer_not_an_error() -> None:
    counts = {"trainers_enrolled": {"value": 1}, "sessions_delivered": {"value": 0}}
    loader = loader_answering([status(200, counts)])
    assert not await loader.reporting_caught_up(Loaded(trainers=2), timeout=1.2)
    assert await loader.reporting_caught_up(Loaded(trainers=1), timeout=1.2)
