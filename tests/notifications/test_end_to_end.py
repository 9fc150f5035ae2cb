"""End to end on the real nats-server: the real enrolment service registers a school and enrols
a trainer, a trainer.certified milestone is published as the sessions service would, and the
notifications service -- a real process, SIGKILLed in the middle and started again on the same
database -- sends exactly one mail per message and one webhook per subscription and event.

The kill comes while one partner holds a webhook unanswered (recorded as 'sending'), after the
rest of the first run was recorded: that webhook comes once more, with the same webhook-id.
(A kill between a server's acceptance and its recording resends too: at least once.)"""

from __future__ import annotations

import asyncio
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from nats.js.client import JetStreamContext
from yts_contracts.milestones import MilestoneKind
from yts_deploy.natsserver import free_port
from yts_deploy.runner import ServiceProcess
from yts_enrolment.main import create_app as create_enrolment
from yts_enrolment.settings import EnrolmentSettings

from tests.notifications.conftest import deliveries, mails_to
from tests.support import notifications_events as ev
from tests.support.enrolment_api import COHORT, SCHOOL, trainer
from tests.support.notifications_mailbox import MailBox
from tests.support.notifications_partner import Partner, Receipt
from tests.support.services import ADMIN_TOKEN, eventually, running, settings_for

ENROLLED = "yts.enrolment.trainer.enrolled.v1"
MILESTONE = "yts.milestones.milestone.reached.v1"
PERSONAL = ("Dana", "Nurlanova", "Saule")


def notifications_process(
    tmp_path: Path, nats_url: str, database_url: str, mailbox: MailBox, port: int
) -> ServiceProcess:
    prefix = "YTS_NOTIFICATIONS_"
    settings = {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "LOG_FORMAT": "json",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox.port),
        "ALLOW_INSECURE_LOOPBACK_WEBHOOKS": "true",
        "WEBHOOK_TIMEOUT_SECONDS": "5",
        "SMTP_TIMEOUT_SECONDS": "5",
        "DELIVERY_LEASE_MARGIN_SECONDS": "1",
        "MAIL_BACKOFF_BASE_SECONDS": "0.2",
        "MAIL_BACKOFF_MAX_SECONDS": "1",
        "WEBHOOK_RETRY_SCHEDULE_SECONDS": "[0.2, 0.4, 0.8, 1, 1, 1, 1]",
        "DELIVERY_POLL_SECONDS": "0.2",
    }
    return ServiceProcess(
        name="notifications",
        port=port,
        env={prefix + key: value for key, value in settings.items()},
        log_path=tmp_path / "notifications.log",
    )


async def ready(process: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=process.url, timeout=2) as client:

        async def answers() -> bool:
            assert process.alive, "the notifications process exited"
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(answers, timeout=30, interval=0.1)


async def test_one_mail_per_message_and_one_webhook_per_subscription_across_a_sigkill(
    provisioned: str,
    database_factory: Any,
    js: JetStreamContext,
    mailbox: MailBox,
    partners: Any,
    tmp_path: Path,
) -> None:
    centre: Partner = await partners("centre")
    unesco: Partner = await partners("unesco")
    cut_off = asyncio.Event()
    trainer_ref: dict[str, str] = {}

    async def hang_on_the_first_enrolment(receipt: Receipt) -> int:
        event = receipt.cloudevent
        if (
            event["type"] == ENROLLED
            and event["data"]["trainer_id"] == trainer_ref.get("id")
            and not cut_off.is_set()
        ):
            cut_off.set()
            await asyncio.Event().wait()  # never answers: the sender is killed meanwhile
        return 200

    unesco.respond_with(hang_on_the_first_enrolment)

    process = notifications_process(
        tmp_path, provisioned, await database_factory("notifications_e2e"), mailbox, free_port()
    )
    enrolment_app = create_enrolment(
        settings_for(
            EnrolmentSettings,
            nats_url=provisioned,
            database_url=await database_factory("enrolment_e2e"),
        )
    )
    process.start()
    try:
        await ready(process)
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with (
            running(enrolment_app) as enrolment,
            httpx.AsyncClient(base_url=process.url, headers=admin, timeout=10) as notifications,
        ):
            subscriptions = {}
            for partner, filters in (
                (centre, ["yts.enrolment.>", "yts.milestones.>"]),
                (unesco, [ENROLLED, MILESTONE]),
            ):
                created = await notifications.post(
                    "/v1/webhook-subscriptions",
                    json={"partner": partner.name, "url": partner.url, "event_types": filters},
                )
                assert created.status_code == 201, created.text
                subscriptions[partner.name] = created.json()

            email = f"deputy-{uuid.uuid4().hex[:10]}@example.org"
            school = await enrolment.post(
                "/v1/schools",
                json={
                    **SCHOOL,
                    "name": f"School-Gymnasium No. {uuid.uuid4().hex[:6]}",
                    "coordinator": {"name": "Aigerim Sadykova", "email": email, "locale": "ru"},
                },
            )
            assert school.status_code == 201, school.text
            school_id = school.json()["id"]
            cohort = await enrolment.post("/v1/cohorts", json=COHORT)
            assert cohort.status_code == 201, cohort.text
            enrolled = await enrolment.post(
                "/v1/trainers", json=trainer(school_id, cohort.json()["id"])
            )
            assert enrolled.status_code == 201, enrolled.text
            trainer_id = enrolled.json()["id"]
            trainer_ref["id"] = trainer_id

            # First run: the enrolment mail and one partner's webhooks go out and are recorded;
            # the other partner is holding the trainer's webhook when the service is killed.
            cohort_id = cohort.json()["id"]
            await asyncio.wait_for(cut_off.wait(), timeout=20)
            for needle in (school_id, cohort_id, trainer_id):
                await eventually(partial(_answered, centre, needle), timeout=20)
            first = {
                r.cloudevent["id"]
                for needle in (school_id, cohort_id, trainer_id)
                for r in centre.about(needle)
            }

            async def recorded() -> bool:
                """Mail + 3 + 1 webhooks; only the one being held is still 'sending'."""
                statuses = []
                for event_id in first:
                    statuses += [
                        (d["partner"] == "unesco", d["status"])
                        for d in await deliveries(notifications, event_id=event_id)
                    ]
                return sorted(statuses) == [(False, "delivered")] * 4 + [(True, "sending")]

            await eventually(recorded, timeout=20)
            process.kill()

        # While it is down, the sessions service certifies the trainer.
        certified_id = await ev.publish(
            js,
            ev.milestone(MilestoneKind.TRAINER_CERTIFIED, uuid.UUID(trainer_id)),
            source="/yts/sessions",
        )

        process.start()
        await ready(process)
        async with httpx.AsyncClient(
            base_url=process.url, headers=admin, timeout=10
        ) as notifications:
            for needle in (school_id, cohort_id, trainer_id, certified_id):
                await eventually(partial(_answered, centre, needle), timeout=30)
            for needle in (trainer_id, certified_id):
                await eventually(partial(_answered, unesco, needle), timeout=30)
            await eventually(lambda: mails_to(mailbox, email, 2), timeout=30)
            # Our four events: school registered, cohort opened, trainer enrolled, certified.
            ours = {
                r.cloudevent["id"]
                for needle in (school_id, cohort_id, trainer_id, certified_id)
                for r in centre.about(needle)
            }
            assert len(ours) == 4

            async def settled() -> list[dict[str, Any]] | None:
                """Our deliveries (2 mails, 4 + 2 webhooks), once none is left to send."""
                mine = []
                for event_id in ours:
                    mine += await deliveries(notifications, event_id=event_id)
                done = len(mine) == 8 and {d["status"] for d in mine} == {"delivered"}
                return mine if done else None

            found = await eventually(settled, timeout=30)
            (cut_delivery,) = [
                d for d in found if d["partner"] == "unesco" and d["event_type"] == ENROLLED
            ]
            detail = await notifications.get(f"/v1/deliveries/{cut_delivery['id']}")
            outcomes = [(a["outcome"], a["http_status"]) for a in detail.json()["attempt_log"]]
    finally:
        await asyncio.to_thread(process.stop)
    log = process.log_path.read_text()[-3000:]

    # Mail: exactly one per message, to the coordinator, in Russian, no trainer's personal data.
    mails = mailbox.to(email)
    assert sorted(m.subject for m in mails) == sorted(
        [
            f"Зачислен новый юный тренер: {school.json()['name']}",
            "Юный тренер вашей школы сертифицирован",
        ]
    ), log
    for mail in mails:
        assert mail.message["Content-Language"] == "ru"
        assert trainer_id in mail.text
        assert not [word for word in PERSONAL if word in mail.whole], mail.whole

    # Webhooks: one per subscription and event; the one cut off came again with the same id.
    expected = {"centre": 4, "unesco": 2}
    for partner in (centre, unesco):
        secret = subscriptions[partner.name]["secret"]
        by_event: dict[str, list[Receipt]] = {}
        for receipt in partner.receipts:
            event = receipt.verified(secret)
            if event["id"] in ours:
                by_event.setdefault(event["id"], []).append(receipt)
        assert len(by_event) == expected[partner.name], (partner.name, by_event.keys(), log)
        for event_id, receipts in by_event.items():
            assert len({r.webhook_id for r in receipts}) == 1
            assert [r.answered for r in receipts if r.answered is not None] == [200], (
                partner.name,
                event_id,
            )
        for receipt in partner.receipts:
            assert email not in receipt.body.decode(), "a private contact reached a partner"
            assert not [word for word in PERSONAL if word in receipt.body.decode()]
    cut = [r for r in unesco.about(trainer_id) if r.cloudevent["type"] == ENROLLED]
    assert [r.answered for r in cut] == [None, 200]
    assert outcomes == [("interrupted", None), ("delivered", 200)]


async def _answered(partner: Partner, needle: str) -> bool:
    return any(r.answered == 200 for r in partner.about(needle))
