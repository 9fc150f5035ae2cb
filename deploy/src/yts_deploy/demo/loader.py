"""Loading a demo plan into a running system through its public HTTP API, a few requests at a
time, retrying only what is retryable; progress is reported through ``Steps``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)
from yts_chassis.retrying import Backoff

from yts_deploy.demo.plan import SCALES, DemoScale, Plan, SessionPlan, TrainerPlan, build_plan


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why."""


# Problems that only mean "the event has not reached the sessions service yet".
_NOT_YET = {"enrolled", "registered"}


class Steps:
    """Progress of the loading, phase by phase (a rich progress bar, or nothing)."""

    def begin(self, phase: str, total: int) -> None: ...

    def advance(self, phase: str) -> None: ...


@dataclass
class Loaded:
    schools: int = 0
    districts: int = 0  # those of the schools loaded
    trainers: int = 0
    modules: int = 0
    sessions_delivered: int = 0
    sessions_cancelled: int = 0
    withdrawals: int = 0
    school_ids: list[str] = field(default_factory=list)
    reporting_caught_up: bool = False


class DemoLoader:
    """Posts the plan to the services, a few requests at a time, retrying only what is
    retryable: an event still on its way, a service busy or briefly away."""

    def __init__(
        self,
        clients: dict[str, httpx.AsyncClient],
        steps: Steps | None = None,
        concurrency: int = 6,
        patience: float = 60.0,
    ) -> None:
        self.clients = clients
        self.steps = steps or Steps()
        self.limit = asyncio.Semaphore(concurrency)
        self.patience = patience

    async def request(
        self, service: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        # A service away or busy, or an event on its way: again after 0.1 s doubling to 2 s,
        # for ``patience`` seconds.
        retrying = AsyncRetrying(
            wait=Backoff(first=0.1, longest=2.0),
            retry=retry_if_exception_type(httpx.TransportError)
            | retry_if_result(lambda response: self._retryable(response)),
            stop=stop_after_delay(self.patience),
        )

        async def send() -> httpx.Response:
            async with self.limit:
                return await self.clients[service].request(method, path, json=body)

        try:
            response: httpx.Response = await retrying(send)
        except RetryError as gave_up:
            last = gave_up.last_attempt
            if last.failed:
                exc = last.exception()
                raise DemoError(f"{service} does not answer: {exc!r}") from exc
            response = last.result()
        if response.status_code < 300:
            return response.json()
        raise DemoError(
            f"{method} {service}{path} answered {response.status_code}: {response.text[:500]}"
        )

    @staticmethod
    def _retryable(response: httpx.Response) -> bool:
        if response.status_code < 300:
            return False
        if response.status_code in (429, 502, 503, 504):
            return True
        if response.status_code != 422:
            return False
        problem = response.json()
        rules = {e.get("rule") for e in problem.get("errors", []) if isinstance(e, dict)}
        rules.add(problem.get("rule"))
        detail = str(problem)
        return bool(rules & _NOT_YET) or "not known yet" in detail

    async def _each(
        self, phase: str, items: Iterable[Any], action: Callable[[Any], Awaitable[Any]]
    ) -> list[Any]:
        items = list(items)
        self.steps.begin(phase, len(items))

        async def one(item: Any) -> Any:
            result = await action(item)
            self.steps.advance(phase)
            return result

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def core_modules(self) -> list[str]:
        modules = await self.request("sessions", "GET", "/v1/modules")
        return [m["id"] for m in modules if m.get("core", True)]

    async def ensure_empty(self) -> None:
        schools = await self.request("enrolment", "GET", "/v1/schools?limit=1")
        if schools.get("total"):
            raise DemoError(
                f"this system already has {schools['total']} school(s): the demo fills an "
                "empty system (run `yts up --demo` with a fresh --state-dir)"
            )

    async def load(self, plan: Plan) -> Loaded:
        loaded = Loaded()
        schools = await self._each(
            "schools",
            plan.schools,
            lambda s: self.request("enrolment", "POST", "/v1/schools", s.body()),
        )
        school_ids = [s["id"] for s in schools]
        loaded.school_ids = school_ids
        loaded.schools = len(school_ids)
        loaded.districts = len({school.district for school in plan.schools})
        cohorts = [
            await self.request("enrolment", "POST", "/v1/cohorts", c.body()) for c in plan.cohorts
        ]
        cohort_ids = [c["id"] for c in cohorts]
        enrolled = await self._each(
            "trainers",
            plan.trainers,
            lambda t: self.request(
                "enrolment",
                "POST",
                "/v1/trainers",
                t.body(school_ids[t.school], cohort_ids[t.cohort]),
            ),
        )
        trainer_ids = [t["id"] for t in enrolled]
        loaded.trainers = len(trainer_ids)

        async def complete_modules(trainer: TrainerPlan) -> None:
            for module, done in trainer.modules:  # in order: the last one certifies
                await self.request(
                    "sessions",
                    "POST",
                    f"/v1/trainers/{trainer_ids[trainer.key]}/module-completions",
                    {"module_id": module, "completed_on": done.isoformat()},
                )
                self.steps.advance("modules")

        self.steps.begin("modules", plan.module_completions)
        await asyncio.gather(*(complete_modules(t) for t in plan.trainers))
        loaded.modules = plan.module_completions

        async def run_session(session: SessionPlan) -> None:
            facilitators = [trainer_ids[key] for key in session.facilitators]
            planned = await self.request(
                "sessions",
                "POST",
                "/v1/sessions",
                session.plan_body(school_ids[session.school], facilitators),
            )
            if session.cancellation:
                await self.request(
                    "sessions",
                    "POST",
                    f"/v1/sessions/{planned['id']}/cancellation",
                    {"reason": session.cancellation[0], "note": session.cancellation[1]},
                )
            else:
                await self.request(
                    "sessions",
                    "POST",
                    f"/v1/sessions/{planned['id']}/completion",
                    session.completion_body(),
                )

        await self._each("sessions", plan.sessions, run_session)
        loaded.sessions_delivered = len(plan.delivered)
        loaded.sessions_cancelled = len(plan.sessions) - loaded.sessions_delivered
        await self._each(
            "withdrawals",
            plan.withdrawals,
            lambda t: self.request(
                "enrolment",
                "POST",
                f"/v1/trainers/{trainer_ids[t.key]}/withdrawal",
                t.withdrawal_body(),
            ),
        )
        loaded.withdrawals = len(plan.withdrawals)
        loaded.reporting_caught_up = await self.reporting_caught_up(loaded)
        return loaded

    async def reporting_caught_up(self, loaded: Loaded, timeout: float = 60.0) -> bool:
        """Wait (bounded) until reporting counts what was loaded: its events are in."""
        self.steps.begin("reporting", 1)

        async def counts_all() -> bool:
            try:
                body = await self.request("reporting", "GET", "/v1/indicators")
            except DemoError:
                body = {}
            return (
                indicator_value(body, "trainers_enrolled") == loaded.trainers
                and indicator_value(body, "sessions_delivered") == loaded.sessions_delivered
            )

        # Asked every 0.5 s until ``timeout``; not caught up by then is an answer, not an error.
        asking = AsyncRetrying(
            wait=wait_fixed(0.5),
            retry=retry_if_result(lambda caught_up: not caught_up),
            stop=stop_after_delay(timeout),
            retry_error_callback=lambda _state: False,
        )
        caught_up: bool = await asking(counts_all)
        if caught_up:
            self.steps.advance("reporting")
        return caught_up


def indicator_value(body: dict[str, Any], name: str) -> Any:
    """An indicator's value in reporting's answer ({"value": ..., "target": ...}); None when the
    answer has no such indicator (e.g. an error)."""
    found = body.get(name)
    return found["value"] if found else None


async def fill(
    clients: dict[str, httpx.AsyncClient],
    *,
    today: date | None = None,
    scale: DemoScale = SCALES["full"],
    seed: int = 2023,
    steps: Steps | None = None,
) -> tuple[Plan, Loaded]:
    """Check the system is empty, build the programme for today and load it."""
    loader = DemoLoader(clients, steps)
    await loader.ensure_empty()
    plan = build_plan(today or date.today(), await loader.core_modules(), scale, seed)
    return plan, await loader.load(plan)
