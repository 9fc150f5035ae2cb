"""A seeded programme sent through the public APIs while services crash (tests/reliability): the
commands (schools, a cohort, trainer enrolments, module completions, peer sessions planned,
completed and cancelled, withdrawals), the client's rule for a request that got no answer, and
the tally of what was carried out, which the checks compare with what every service shows.

The retry rule is a careful client's: a create is sent with an ``Idempotency-Key`` and a request
that got no answer (the service died with it) is sent again with the same key until it is
answered: the kept response (``Idempotent-Replayed: true``), the create carried out now (the
first attempt never committed), or a 409 saying it was carried out but its response was not kept
(``idempotency-response-lost``, or "in progress" from a process that restarted since). Then, and
for the commands that take no key (a withdrawal, a completion, a cancellation: a repeat answers
409), the outcome is read back from the service's own GET routes. The seed fixes the
programme's intentions; which command meets which crash depends on timing.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from yts_contracts.enrolment import WithdrawalReason
from yts_contracts.sessions import CancellationReason
from yts_contracts.vocabulary import District
from yts_sessions.curriculum import load_curriculum
from yts_sessions.settings import CURRICULUM

from tests.support.enrolment_api import COHORT, CONSENT_DAY

CORE_MODULES = tuple(m.id for m in load_curriculum(CURRICULUM).modules if m.core)
KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# How long one command may take to be answered, crashes and restarts included.
ANSWER_SECONDS = 90.0
# The share of commands whose first answer the client does not wait for.
HANG_UP_SHARE = 0.04
# Commands between a trainer's enrolment and the first module recorded for them: the sessions
# service learns of the trainer through NATS a moment after the 201.
ROSTER_LAG_COMMANDS = 6


def almaty_today() -> str:
    return datetime.now(ZoneInfo("Asia/Almaty")).date().isoformat()


class Unanswered(Exception):
    """The request may have reached the service, which gave no answer (it died, or the
    connection broke): the command's outcome is unknown."""


@dataclass
class Trainer:
    id: str
    school_id: str
    enrolled_at_command: int
    modules: set[str] = field(default_factory=set)
    withdrawn: bool = False

    @property
    def certified(self) -> bool:
        return set(CORE_MODULES) <= self.modules


@dataclass
class PeerSession:
    id: str
    school_id: str
    facilitators: list[str]
    status: str = "planned"
    participants: int = 0
    responses: int = 0
    rating: float | None = None


@dataclass
class Tally:
    """What the services answered 2xx to (or were shown by reading back to have carried out),
    and how each command went."""

    schools: dict[str, str] = field(default_factory=dict)  # id -> name
    cohort_id: str | None = None
    trainers: dict[str, Trainer] = field(default_factory=dict)
    sessions: dict[str, PeerSession] = field(default_factory=dict)
    commands: int = 0
    done: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # "<command> <status>"
    refusals: dict[str, str] = field(default_factory=dict)  # the first problem of each
    server_errors: Counter[str] = field(default_factory=Counter)  # 5xx answers, then retried
    unanswered: int = 0  # commands whose first attempt got no answer
    dropped: int = 0  # ... of which the client hung up on purpose (a network cut)
    replayed: int = 0  # ... answered by the kept response on retry
    ran_on_retry: int = 0  # ... carried out by the retry (the first never committed)
    read_back: int = 0  # ... found carried out by reading the state back
    not_carried_out: int = 0  # ... found not carried out, and refused on retry


@dataclass(frozen=True)
class Command:
    name: str
    service: str
    path: str
    body: dict[str, Any]
    create: bool  # takes an Idempotency-Key
    # What the service shows when the command was carried out (None: it was not).
    read_back: Callable[[], dict[str, Any] | None]


class ProgrammeClient:
    """HTTP to the services' replicas as the admin: one chosen at random, the next when it refuses
    the connection (as a load balancer would)."""

    def __init__(self, urls: dict[str, list[str]], token: str, seed: int) -> None:
        self.urls = urls
        self.http = httpx.Client(
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(15.0, connect=2.0),
        )
        self.turn = random.Random(seed)
        self.in_flight: str | None = None  # the URL a POST is waiting on (the chaos aims at it)

    def close(self) -> None:
        self.http.close()

    def _replicas(self, service: str) -> list[str]:
        replicas = list(self.urls[service])
        self.turn.shuffle(replicas)
        return replicas

    def post(
        self,
        service: str,
        path: str,
        body: dict[str, Any],
        key: str | None,
        *,
        hang_up: bool = False,
    ) -> httpx.Response:
        """``hang_up``: send the request whole, then drop the connection without waiting
        for the answer, as a network cut or an impatient proxy would."""
        headers = {KEY_HEADER: key} if key else {}
        timeout = httpx.Timeout(15.0, connect=2.0, read=0.001) if hang_up else None
        deadline = time.monotonic() + ANSWER_SECONDS
        while True:
            for url in self._replicas(service):
                self.in_flight = url
                try:
                    if timeout is None:
                        return self.http.post(url + path, json=body, headers=headers)
                    return self.http.post(url + path, json=body, headers=headers, timeout=timeout)
                except httpx.ConnectError:
                    continue  # refused: it never arrived; another replica, or later
                except httpx.TransportError as exc:
                    raise Unanswered(repr(exc)) from exc
                finally:
                    self.in_flight = None
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} answered nothing for {ANSWER_SECONDS}s")
            time.sleep(0.2)

    def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A GET is safe to repeat: retried until a replica answers (not 5xx)."""
        deadline = time.monotonic() + ANSWER_SECONDS
        while True:
            for url in self._replicas(service):
                try:
                    response = self.http.get(url + path, params=params)
                except httpx.TransportError:
                    continue
                if response.status_code < 500:
                    return response
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} answered no GET {path} for {ANSWER_SECONDS}s")
            time.sleep(0.2)

    def every(self, service: str, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paged list."""
        items: list[Any] = []
        for _ in range(1000):
            page = self.get(service, path, {**(params or {}), "limit": 500, "offset": len(items)})
            assert page.status_code == 200, page.text
            body = page.json()
            items.extend(body["items"])
            if not body["items"] or len(items) >= body["total"]:
                return items
        raise AssertionError(f"{path}: more than 1000 pages")


def _problem_kind(response: httpx.Response) -> str:
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1]
    except ValueError:
        return ""


class ProgrammeLoad:
    """Chooses the next command from what the tally holds (seeded), sends it, and keeps the
    tally."""

    def __init__(
        self,
        client: ProgrammeClient,
        seed: int,
        *,
        schools: int,
        trainers_per_school: int,
    ) -> None:
        self.client = client
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.school_target = schools
        self.trainer_target = schools * trainers_per_school
        self.progress = 0  # commands sent, read by the chaos thread
        self.lock = threading.Lock()

    # -- sending ---------------------------------------------------------------------------

    def carry_out(self, command: Command) -> dict[str, Any] | None:
        """Send ``command`` until it has a definite outcome: what it made (or changed), or
        None when it was refused."""
        tally = self.tally
        tally.commands += 1
        self.progress += 1
        key = str(uuid.uuid4()) if command.create else None
        hang_up = self.rng.random() < HANG_UP_SHARE
        unanswered = False
        deadline = time.monotonic() + ANSWER_SECONDS
        while time.monotonic() < deadline:
            try:
                response = self.client.post(
                    command.service, command.path, command.body, key, hang_up=hang_up
                )
            except Unanswered:
                if not unanswered:
                    tally.unanswered += 1
                    tally.dropped += hang_up
                    unanswered = True
                hang_up = False
                time.sleep(0.3)
                continue
            status = response.status_code
            if 200 <= status < 300:
                if unanswered:
                    if response.headers.get(REPLAYED_HEADER) == "true":
                        tally.replayed += 1
                    else:
                        tally.ran_on_retry += 1
                tally.done += 1
                return dict(response.json())
            if status >= 500:
                tally.server_errors[f"{command.name} {status}"] += 1
            kind = _problem_kind(response)
            if unanswered:
                # Any other answer after an unanswered attempt: was the first carried out?
                found = command.read_back()
                if found is not None:
                    tally.read_back += 1
                    tally.done += 1
                    return found
                if kind == "idempotency-key-in-progress" or status >= 500:
                    time.sleep(float(response.headers.get("Retry-After", "0.5")))
                    continue
                tally.not_carried_out += 1
            elif status >= 500:
                # Nothing was kept (a 5xx keeps no response): the same request again.
                time.sleep(0.5)
                continue
            elif kind == "idempotency-key-in-progress":
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            refusal = f"{command.name} {status}"
            tally.refused[refusal] += 1
            tally.refusals.setdefault(refusal, response.text[:300])
            return None
        raise AssertionError(f"{command.name}: no definite outcome in {ANSWER_SECONDS}s")

    # -- choosing ----------------------------------------------------------------------------

    def step(self) -> None:
        """Choose one command the programme would send now and carry it out."""
        choices: list[tuple[float, Callable[[], None]]] = []
        tally = self.tally
        if tally.cohort_id is None:
            self._open_cohort()
            return
        if len(tally.schools) < self.school_target:
            choices.append((4.0 if len(tally.schools) < 2 else 1.0, self._register_school))
        if tally.schools and len(tally.trainers) < self.trainer_target:
            choices.append((3.0, self._enrol_trainer))
        if self._learning():
            choices.append((6.0, self._complete_module))
        if self._schools_with_facilitators():
            choices.append((2.5, self._plan_session))
        if self._planned():
            choices.append((3.0, self._complete_session))
            choices.append((0.7, self._cancel_session))
        if self._withdrawable():
            choices.append((0.4, self._withdraw_trainer))
        if not choices:
            self._enrol_trainer() if tally.schools else self._register_school()
            return
        weights = [w for w, _ in choices]
        self.rng.choices([c for _, c in choices], weights)[0]()

    def _active(self) -> list[Trainer]:
        return [t for t in self.tally.trainers.values() if not t.withdrawn]

    def _learning(self) -> list[Trainer]:
        known = self.tally.commands - ROSTER_LAG_COMMANDS
        return [t for t in self._active() if not t.certified and t.enrolled_at_command <= known]

    def _facilitators(self, school_id: str) -> list[Trainer]:
        return [t for t in self._active() if t.school_id == school_id and t.certified]

    def _schools_with_facilitators(self) -> list[str]:
        return sorted({t.school_id for t in self._active() if t.certified})

    def _planned(self) -> list[PeerSession]:
        return [s for s in self.tally.sessions.values() if s.status == "planned"]

    def _withdrawable(self) -> list[Trainer]:
        busy = {f for s in self._planned() for f in s.facilitators}
        active = self._active()
        if len(self.tally.trainers) - len(active) >= len(self.tally.trainers) // 8:
            return []  # about one trainer in eight withdraws
        return [t for t in active if t.id not in busy]

    # -- the commands ------------------------------------------------------------------------

    def _open_cohort(self) -> None:
        client = self.client

        def read_back() -> dict[str, Any] | None:
            cohorts = client.get("enrolment", "/v1/cohorts").json()
            return next((c for c in cohorts if c["name"] == COHORT["name"]), None)

        made = self.carry_out(
            Command("open cohort", "enrolment", "/v1/cohorts", dict(COHORT), True, read_back)
        )
        if made is not None:
            self.tally.cohort_id = made["id"]

    def _register_school(self) -> None:
        client, rng = self.client, self.rng
        number = len(self.tally.schools) + 1
        name = f"School-Lyceum No. {100 + number} ({uuid.UUID(int=rng.getrandbits(128)).hex[:6]})"
        body = {
            "name": name,
            "district": rng.choice(list(District)).value,
            "languages": ["kk", "ru"],
            "coordinator": {
                "name": f"Coordinator {number}",
                "email": f"deputy{number}@example.org",
                "locale": rng.choice(["kk", "ru", "en"]),
            },
        }

        def read_back() -> dict[str, Any] | None:
            schools = client.every("enrolment", "/v1/schools")
            return next((s for s in schools if s["name"] == name), None)

        made = self.carry_out(
            Command("register school", "enrolment", "/v1/schools", body, True, read_back)
        )
        if made is not None:
            self.tally.schools[made["id"]] = name

    def _enrol_trainer(self) -> None:
        client, rng, tally = self.client, self.rng, self.tally
        school_id = rng.choice(sorted(tally.schools))
        first_name = f"Trainer{tally.commands}x{rng.randrange(10**6)}"
        body = {
            "school_id": school_id,
            "cohort_id": tally.cohort_id,
            "first_name": first_name,
            "last_name": "Crash-Test",
            "grade": rng.choice([9, 10, 11]),
            "gender": rng.choice(["female", "male", "undisclosed"]),
            "languages": rng.choice([["kk"], ["ru"], ["kk", "ru"]]),
            "guardian_consent": {"guardian_name": "A Guardian", "given_on": CONSENT_DAY},
        }

        def read_back() -> dict[str, Any] | None:
            trainers = client.every(
                "enrolment",
                "/v1/trainers",
                {"school_id": school_id, "cohort_id": tally.cohort_id},
            )
            return next((t for t in trainers if t["first_name"] == first_name), None)

        made = self.carry_out(
            Command("enrol trainer", "enrolment", "/v1/trainers", body, True, read_back)
        )
        if made is not None:
            tally.trainers[made["id"]] = Trainer(made["id"], school_id, tally.commands)

    def _complete_module(self) -> None:
        client, rng = self.client, self.rng
        trainer = rng.choice(self._learning())
        module_id = rng.choice(sorted(set(CORE_MODULES) - trainer.modules))
        path = f"/v1/trainers/{trainer.id}/module-completions"

        def read_back() -> dict[str, Any] | None:
            progress = client.get("sessions", f"/v1/trainers/{trainer.id}/progress")
            if progress.status_code != 200:
                return None
            done = {m["module_id"] for m in progress.json()["modules_completed"]}
            return {"module_id": module_id} if module_id in done else None

        made = self.carry_out(
            Command("complete module", "sessions", path, {"module_id": module_id}, True, read_back)
        )
        if made is not None:
            trainer.modules.add(module_id)
        else:
            # Most likely the trainer's enrolment has not reached sessions yet: later.
            trainer.enrolled_at_command = self.tally.commands

    def _plan_session(self) -> None:
        client, rng, tally = self.client, self.rng, self.tally
        school_id = rng.choice(self._schools_with_facilitators())
        able = self._facilitators(school_id)
        facilitators = sorted(t.id for t in rng.sample(able, min(len(able), rng.randint(1, 3))))
        body = {
            "school_id": school_id,
            "topic_module_id": rng.choice(CORE_MODULES),
            "facilitator_ids": facilitators,
            "language": rng.choice(["kk", "ru"]),
            "planned_on": almaty_today(),
        }

        def read_back() -> dict[str, Any] | None:
            listed = client.every("sessions", "/v1/sessions", {"school_id": school_id})
            return next(
                (
                    s
                    for s in listed
                    if s["id"] not in tally.sessions
                    and sorted(s["facilitator_ids"]) == facilitators
                    and s["topic_module_id"] == body["topic_module_id"]
                    and s["language"] == body["language"]
                ),
                None,
            )

        made = self.carry_out(
            Command("plan session", "sessions", "/v1/sessions", body, True, read_back)
        )
        if made is not None:
            tally.sessions[made["id"]] = PeerSession(made["id"], school_id, facilitators)

    def _complete_session(self) -> None:
        client, rng = self.client, self.rng
        peer = rng.choice(self._planned())
        total = rng.randint(8, 60)
        female = rng.randint(0, total)
        male = rng.randint(0, total - female)
        responses = rng.randint(0, total)
        rating = round(rng.uniform(1, 5), 1) if responses else None
        body = {
            "delivered_on": almaty_today(),
            "duration_minutes": rng.choice([40, 45, 60, 90]),
            "participants": {"total": total, "female": female, "male": male},
            "feedback": {"responses": responses, "average_rating": rating},
        }

        def read_back() -> dict[str, Any] | None:
            found = client.get("sessions", f"/v1/sessions/{peer.id}").json()
            carried_out = (
                found.get("status") == "completed"
                and (found.get("participants") or {}).get("total") == total
            )
            return dict(found) if carried_out else None

        path = f"/v1/sessions/{peer.id}/completion"
        if self.carry_out(Command("complete session", "sessions", path, body, False, read_back)):
            peer.status, peer.participants = "completed", total
            peer.responses, peer.rating = responses, rating

    def _cancel_session(self) -> None:
        client, rng = self.client, self.rng
        peer = rng.choice(self._planned())
        reason = rng.choice(list(CancellationReason)).value
        body = {"reason": reason, "note": "The hall is taken by the crash test."}

        def read_back() -> dict[str, Any] | None:
            found = client.get("sessions", f"/v1/sessions/{peer.id}").json()
            carried_out = (
                found.get("status") == "cancelled" and found.get("cancellation_reason") == reason
            )
            return dict(found) if carried_out else None

        path = f"/v1/sessions/{peer.id}/cancellation"
        if self.carry_out(Command("cancel session", "sessions", path, body, False, read_back)):
            peer.status = "cancelled"

    def _withdraw_trainer(self) -> None:
        client, rng = self.client, self.rng
        trainer = rng.choice(self._withdrawable())
        body = {"reason": rng.choice(list(WithdrawalReason)).value}

        def read_back() -> dict[str, Any] | None:
            found = client.get("enrolment", f"/v1/trainers/{trainer.id}").json()
            return dict(found) if found.get("status") == "withdrawn" else None

        path = f"/v1/trainers/{trainer.id}/withdrawal"
        if self.carry_out(Command("withdraw trainer", "enrolment", path, body, False, read_back)):
            trainer.withdrawn = True
