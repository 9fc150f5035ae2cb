"""After the crashes: what the tally of carried-out commands implies, against what every service
and every stream shows. Each check counts what is missing (lost), what is there more than once
(duplicated), what no command made (unexpected) and what differs in content (wrong).

- enrolment and sessions: their own records (trainers, statuses, peer sessions) vs the tally;
- the streams: every fact of a command published once (one event id per trainer enrolled,
  module completed, session completed, ...), nothing dead-lettered;
- sessions' milestones: exactly the milestones the tally's counts reach, each once (in the
  stream and in every trainer's progress: a certified trainer has one ``trainer.certified``);
- reporting: every indicator and the sessions export vs the tally;
- notifications: one mail delivery per enrolment, certification and school milestone, one
  webhook delivery per milestone, all delivered; the mail catcher and the webhook receiver got
  each one (a resend of the same Message-ID or webhook-id after a crash is allowed: at least
  once, with a stable id);
- NATS: every durable consumer has nothing pending and nothing waiting for an ack;
- the outboxes are empty (``/readyz``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext
from yts_contracts.milestones import MilestoneKind, SubjectType, milestone_id
from yts_deploy.natsserver import free_port
from yts_deploy.runner import SERVICES
from yts_deploy.topology import SERVICE_CONSUMERS
from yts_notifications.domain import webhook_id

from tests.support.crash_load import ProgrammeClient, Tally
from tests.support.events import stream_messages

SETTLE_SECONDS = 120.0
SCHOOL_MAIL_KINDS = {MilestoneKind.SCHOOL_FIRST_SESSION, MilestoneKind.SCHOOL_SESSIONS_20}

# What identifies the fact of each event type: one event id per key, or it happened twice.
FACT_KEYS = {
    "yts.enrolment.school.registered.v1": lambda d: d["school_id"],
    "yts.enrolment.cohort.opened.v1": lambda d: d["cohort_id"],
    "yts.enrolment.trainer.enrolled.v1": lambda d: d["trainer_id"],
    "yts.enrolment.trainer.withdrawn.v1": lambda d: d["trainer_id"],
    "yts.sessions.module.completed.v1": lambda d: f"{d['trainer_id']}/{d['module_id']}",
    "yts.sessions.session.completed.v1": lambda d: d["session_id"],
    "yts.sessions.session.cancelled.v1": lambda d: d["session_id"],
    "yts.milestones.milestone.reached.v1": lambda d: d["milestone_id"],
}


@dataclass
class Finding:
    check: str
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    wrong: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.wrong)

    def __str__(self) -> str:
        counts = (
            f"lost {self.lost}, duplicated {self.duplicated}, "
            f"unexpected {self.unexpected}, wrong {self.wrong}"
        )
        return f"{self.check}: {counts}" + (f" ({self.detail})" if self.detail else "")


def compare(check: str, expected: Collection[str], found: Iterable[str]) -> Finding:
    """Each expected key found exactly once, and nothing else."""
    counts = Counter(found)
    wanted = set(expected)
    lost = sorted(wanted - counts.keys())
    twice = sorted(k for k, n in counts.items() if n > 1)
    extra = sorted(counts.keys() - wanted)
    sample = {"lost": lost[:3], "twice": twice[:3], "unexpected": extra[:3]}
    return Finding(
        check,
        lost=len(lost),
        duplicated=sum(counts[k] - 1 for k in twice),
        unexpected=len(extra),
        detail=", ".join(f"{k} {v}" for k, v in sample.items() if v),
    )


def compare_count(check: str, expected: int, found: int) -> Finding:
    return Finding(
        check,
        lost=max(0, expected - found),
        duplicated=max(0, found - expected),
        detail="" if expected == found else f"expected {expected}, found {found}",
    )


# -- what the tally implies -------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    milestones: dict[str, MilestoneKind]  # milestone id -> kind
    trainer_milestones: dict[str, set[str]]  # trainer id -> its milestone ids
    indicators: dict[str, int]
    average_rating: float | None
    delivered_sessions: set[str]


def expected_from(tally: Tally, thresholds: dict[str, int]) -> Expected:
    completed = [s for s in tally.sessions.values() if s.status == "completed"]
    facilitated: Counter[str] = Counter()
    trainer_peers: Counter[str] = Counter()
    school_sessions: Counter[str] = Counter()
    for peer in completed:
        school_sessions[peer.school_id] += 1
        for trainer_id in peer.facilitators:
            facilitated[trainer_id] += 1
            trainer_peers[trainer_id] += peer.participants
    peers = sum(s.participants for s in completed)
    kind = MilestoneKind
    reached: list[tuple[MilestoneKind, str | None]] = []
    for trainer in tally.trainers.values():
        if trainer.certified:
            reached.append((kind.TRAINER_CERTIFIED, trainer.id))
        if facilitated[trainer.id] >= 1:
            reached.append((kind.TRAINER_FIRST_SESSION, trainer.id))
        if facilitated[trainer.id] >= thresholds["trainer_sessions_5"]:
            reached.append((kind.TRAINER_SESSIONS_5, trainer.id))
        if trainer_peers[trainer.id] >= thresholds["trainer_peers_100"]:
            reached.append((kind.TRAINER_PEERS_100, trainer.id))
    for school_id, sessions in school_sessions.items():
        reached.append((kind.SCHOOL_FIRST_SESSION, school_id))
        if sessions >= thresholds["school_sessions_20"]:
            reached.append((kind.SCHOOL_SESSIONS_20, school_id))
    for programme_kind, threshold in (
        (kind.PROGRAMME_PEERS_1000, "programme_peers_1000"),
        (kind.PROGRAMME_PEERS_5000, "programme_peers_5000"),
        (kind.PROGRAMME_PEERS_10000, "programme_peers_10000"),
    ):
        if peers >= thresholds[threshold]:
            reached.append((programme_kind, None))
    milestones: dict[str, MilestoneKind] = {}
    per_trainer: dict[str, set[str]] = {t: set() for t in tally.trainers}
    for milestone_kind, subject in reached:
        ident = str(milestone_id(milestone_kind, milestone_kind.subject_type, subject))
        milestones[ident] = milestone_kind
        if milestone_kind.subject_type is SubjectType.TRAINER and subject is not None:
            per_trainer[subject].add(ident)
    rated = [s for s in completed if s.rating is not None and s.responses]
    responses = sum(s.responses for s in rated)
    rating = (
        sum(s.rating * s.responses for s in rated if s.rating is not None) / responses
        if responses
        else None
    )
    schools = {t.school_id for t in tally.trainers.values()} | set(school_sessions)
    indicators = {
        "schools_participating": len(schools),
        "trainers_enrolled": len(tally.trainers),
        "trainers_certified": sum(1 for t in tally.trainers.values() if t.certified),
        "trainers_active": len(facilitated),
        "trainers_withdrawn": sum(1 for t in tally.trainers.values() if t.withdrawn),
        "sessions_delivered": len(completed),
        "peer_participations": peers,
        "milestones_reached": len(milestones),
    }
    return Expected(milestones, per_trainer, indicators, rating, {s.id for s in completed})


# -- what NATS holds ----------------------------------------------------------------------------


@dataclass
class StreamFacts:
    events: dict[str, list[tuple[str, dict[str, Any]]]]  # type -> [(event id, data)]
    dead_letters: int
    consumers: dict[str, tuple[int, int]]  # durable -> (num_pending, num_ack_pending)

    def keys(self, event_type: str) -> list[tuple[str, str]]:
        """(fact key, event id) of each distinct event of the type."""
        seen: dict[str, str] = {}
        for event_id, data in self.events.get(event_type, []):
            seen[event_id] = FACT_KEYS[event_type](data)
        return [(key, event_id) for event_id, key in seen.items()]

    def copies(self) -> int:
        """Messages stored twice under one event id (a re-publish the server kept)."""
        return sum(
            len(messages) - len({event_id for event_id, _ in messages})
            for messages in self.events.values()
        )


async def _connect(urls: list[str]) -> NatsClient:
    return await nats.connect(
        servers=urls, connect_timeout=3, max_reconnect_attempts=5, reconnect_time_wait=0.5
    )


async def _backlog(js: JetStreamContext) -> dict[str, tuple[int, int]]:
    """Every service consumer's (pending, awaiting ack)."""
    backlog = {}
    for durable in SERVICE_CONSUMERS:
        info = await js.consumer_info(durable.stream, durable.durable)
        backlog[durable.durable] = (info.num_pending, info.num_ack_pending)
    return backlog


async def consumer_backlog(urls: list[str]) -> dict[str, tuple[int, int]]:
    nc = await _connect(urls)
    try:
        return await _backlog(nc.jetstream(timeout=5))
    finally:
        await nc.close()


async def read_streams(urls: list[str]) -> StreamFacts:
    nc = await _connect(urls)
    try:
        js = nc.jetstream(timeout=10)
        events: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for stream in ("YTS_ENROLMENT", "YTS_SESSIONS", "YTS_MILESTONES"):
            info = await js.stream_info(stream)
            for msg in await stream_messages(js, stream, expected=info.state.messages):
                headers = msg.headers or {}
                events.setdefault(headers["ce-type"], []).append(
                    (headers["ce-id"], json.loads(msg.data))
                )
        dead = (await js.stream_info("YTS_DLQ")).state.messages
        backlog = await _backlog(js)
    finally:
        await nc.close()
    return StreamFacts(events, dead, backlog)


# -- a partner's webhook endpoint on loopback ---------------------------------------------------


@dataclass
class WebhookReceiver:
    """Answers 204 to every POST and keeps the ``webhook-id`` of each."""

    port: int = field(default_factory=free_port)
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        received = self.ids

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                self.rfile.read(length)
                received.append(self.headers.get("webhook-id", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/yts/webhooks"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def kept_mail_ids(mail_dir: Path) -> list[str]:
    """The delivery id (hex) in the Message-ID of every mail the catcher received (resends
    included)."""
    ids = []
    for path in sorted(mail_dir.glob("*.eml")):
        with path.open("rb") as file:
            message = BytesParser(policy=policy.default).parse(file, headersonly=True)
        ids.append(uuid.UUID(str(message["Message-ID"]).strip().strip("<>").split("@", 1)[0]).hex)
    return ids


# -- settling and checking ------------------------------------------------------------------------


@dataclass
class Inspector:
    client: ProgrammeClient
    urls: dict[str, list[str]]
    nats_urls: list[str]
    tally: Tally
    expected: Expected
    resends: dict[str, int] = field(default_factory=dict)  # allowed: at least once, stable ids

    def outbox_pending(self) -> int:
        pending = 0
        for service in SERVICES:
            for url in self.urls[service]:
                body = self.client.http.get(f"{url}/readyz").json()
                pending += int(body.get("outbox_pending", 0))
        return pending

    def indicators(self) -> dict[str, Any]:
        response = self.client.get("reporting", "/v1/indicators")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def deliveries(self, channel: str) -> list[dict[str, Any]]:
        return self.client.every("notifications", "/v1/deliveries", {"channel": channel})

    def settled(self) -> str | None:
        """What is still moving (None: nothing)."""
        backlog = asyncio.run(consumer_backlog(self.nats_urls))
        moving = {name: b for name, b in backlog.items() if any(b)}
        if moving:
            return f"consumers {moving}"
        if pending := self.outbox_pending():
            return f"{pending} events in outboxes"
        values = self.indicators()
        differ = {
            name: (values[name]["value"], wanted)
            for name, wanted in self.expected.indicators.items()
            if values[name]["value"] != wanted
        }
        if differ:
            return f"indicators (found, expected): {differ}"
        for status in ("pending", "sending"):
            found = self.client.get(
                "notifications", "/v1/deliveries", {"status": status, "limit": 1}
            ).json()
            if found["total"]:
                return f"{found['total']} deliveries {status}"
        return None

    def wait_until_settled(self, timeout: float = SETTLE_SECONDS) -> tuple[float, str | None]:
        started = time.monotonic()
        moving: str | None = "not looked yet"
        while time.monotonic() - started < timeout:
            moving = self.settled()
            if moving is None:
                break
            time.sleep(1.0)
        return time.monotonic() - started, moving

    def check(self, mail_dir: Path, receiver: WebhookReceiver | None) -> list[Finding]:
        tally, expected = self.tally, self.expected
        facts = asyncio.run(read_streams(self.nats_urls))
        findings: list[Finding] = []

        # enrolment's and sessions' own records
        trainers = self.client.every("enrolment", "/v1/trainers")
        findings.append(compare("enrolment trainers", tally.trainers, [t["id"] for t in trainers]))
        withdrawn = {t for t, v in tally.trainers.items() if v.withdrawn}
        findings.append(
            compare(
                "enrolment withdrawals",
                withdrawn,
                [t["id"] for t in trainers if t["status"] == "withdrawn"],
            )
        )
        schools = self.client.every("enrolment", "/v1/schools")
        findings.append(compare("enrolment schools", tally.schools, [s["id"] for s in schools]))
        sessions = self.client.every("sessions", "/v1/sessions")
        findings.append(
            compare("sessions peer sessions", tally.sessions, [s["id"] for s in sessions])
        )
        wrong = [
            s["id"]
            for s in sessions
            if s["id"] in tally.sessions and s["status"] != tally.sessions[s["id"]].status
        ]
        findings.append(Finding("sessions statuses", wrong=len(wrong), detail=str(wrong[:3])))

        # the streams: each fact once
        modules = {f"{t.id}/{m}" for t in tally.trainers.values() for m in t.modules}
        by_status = {
            status: {s.id for s in tally.sessions.values() if s.status == status}
            for status in ("completed", "cancelled")
        }
        for event_type, wanted in (
            ("yts.enrolment.school.registered.v1", set(tally.schools)),
            ("yts.enrolment.cohort.opened.v1", {tally.cohort_id} if tally.cohort_id else set()),
            ("yts.enrolment.trainer.enrolled.v1", set(tally.trainers)),
            ("yts.enrolment.trainer.withdrawn.v1", withdrawn),
            ("yts.sessions.module.completed.v1", modules),
            ("yts.sessions.session.completed.v1", by_status["completed"]),
            ("yts.sessions.session.cancelled.v1", by_status["cancelled"]),
            ("yts.milestones.milestone.reached.v1", set(expected.milestones)),
        ):
            keys = [key for key, _ in facts.keys(event_type)]
            findings.append(compare(f"stream {event_type.split('.', 1)[1]}", wanted, keys))
        findings.append(Finding("stream copies of one event id", duplicated=facts.copies()))
        findings.append(Finding("dead letters", lost=facts.dead_letters))

        # sessions' milestones in each trainer's progress
        progress_milestones: list[str] = []
        certified_twice = 0
        for trainer_id in tally.trainers:
            progress = self.client.get("sessions", f"/v1/trainers/{trainer_id}/progress").json()
            kinds = Counter(m["kind"] for m in progress["milestones"])
            certified_twice += max(0, kinds[MilestoneKind.TRAINER_CERTIFIED.value] - 1)
            progress_milestones.extend(str(m["milestone_id"]) for m in progress["milestones"])
        trainer_milestones = set().union(*expected.trainer_milestones.values())
        findings.append(
            compare("sessions trainers' milestones", trainer_milestones, progress_milestones)
        )
        findings.append(Finding("trainer.certified twice", duplicated=certified_twice))

        # reporting
        values = self.indicators()
        for name, count in expected.indicators.items():
            findings.append(compare_count(f"reporting {name}", count, values[name]["value"]))
        rating = values["average_rating"]["value"]
        off = (rating is None) != (expected.average_rating is None) or (
            rating is not None
            and expected.average_rating is not None
            and abs(rating - expected.average_rating) > 0.01
        )
        findings.append(
            Finding(
                "reporting average_rating",
                wrong=int(off),
                detail=f"expected {expected.average_rating}, found {rating}" if off else "",
            )
        )
        export = self.client.get("reporting", "/v1/exports/sessions.csv", {"columns": "keys"})
        rows = export.content.decode("utf-8-sig").splitlines()[1:]
        findings.append(
            compare(
                "reporting sessions.csv",
                expected.delivered_sessions,
                [row.split(",", 1)[0] for row in rows if row],
            )
        )

        # notifications
        # Deliveries are compared by the fact their event is about (the trainer enrolled, the
        # milestone), so that one fact published twice and mailed twice shows.
        about = {
            event_id: key
            for event_type in ("trainer.enrolled", "milestone.reached")
            for key, event_id in facts.keys(next(t for t in FACT_KEYS if event_type in t))
        }

        def facts_of(deliveries: list[dict[str, Any]]) -> list[str]:
            return [about.get(d["event_id"], f"unknown event {d['event_id']}") for d in deliveries]

        every_mail = self.deliveries("mail")
        mails = [d for d in every_mail if d["message"] != "weekly_summary"]
        for message, wanted in (
            ("trainer_enrolled", set(tally.trainers)),
            (
                "trainer_certified",
                {m for m, k in expected.milestones.items() if k is MilestoneKind.TRAINER_CERTIFIED},
            ),
            (
                "school_milestone",
                {m for m, k in expected.milestones.items() if k in SCHOOL_MAIL_KINDS},
            ),
        ):
            findings.append(
                compare(
                    f"mail deliveries {message}",
                    wanted,
                    facts_of([d for d in mails if d["message"] == message]),
                )
            )
        undelivered = [d["id"] for d in mails if d["status"] != "delivered"]
        findings.append(
            Finding("mail delivered", lost=len(undelivered), detail=str(undelivered[:3]))
        )
        # The catcher's Message-IDs are <delivery id (hex)@sender's domain>.
        summaries = {uuid.UUID(d["id"]).hex for d in every_mail if d not in mails}
        kept = [i for i in kept_mail_ids(mail_dir) if i not in summaries]
        delivered = {uuid.UUID(d["id"]).hex for d in mails if d["status"] == "delivered"}
        findings.append(
            Finding(
                "mail catcher",
                lost=len(delivered - set(kept)),
                unexpected=len(set(kept) - delivered),
            )
        )
        self.resends["mail resent (same Message-ID)"] = len(kept) - len(set(kept))
        if receiver is not None:
            hooks = self.deliveries("webhook")
            findings.append(
                compare("webhook deliveries milestones", set(expected.milestones), facts_of(hooks))
            )
            sent = {
                webhook_id(d["event_id"], uuid.UUID(d["subscription_id"]))
                for d in hooks
                if d["status"] == "delivered"
            }
            findings.append(Finding("webhooks delivered", lost=len(hooks) - len(sent)))
            findings.append(
                Finding(
                    "webhook receiver",
                    lost=len(sent - set(receiver.ids)),
                    unexpected=len(set(receiver.ids) - sent),
                )
            )
            self.resends["webhooks resent (same webhook-id)"] = len(receiver.ids) - len(
                set(receiver.ids)
            )

        # NATS and the outboxes
        stuck = {name: b for name, b in facts.consumers.items() if any(b)}
        findings.append(
            Finding(
                "consumers pending or unacked",
                lost=sum(p + a for p, a in stuck.values()),
                detail=str(stuck) if stuck else "",
            )
        )
        findings.append(Finding("outboxes", lost=self.outbox_pending()))
        return findings
