"""Coordinator mail, end to end through the real broker to a real SMTP server on loopback:
who gets it, in which language, with which subject and parts, once, and never with trainers'
personal data; mail that cannot be addressed yet waits for the contact."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from nats.js.client import JetStreamContext
from yts_chassis.ids import new_id
from yts_contracts.milestones import MilestoneKind
from yts_contracts.sessions import SessionCancelled, SessionCompleted
from yts_notifications.domain import IsoWeek

from tests.notifications.conftest import (
    StartNotifications,
    deliveries,
    mails_to,
    metric,
    receipts_about,
)
from tests.support import notifications_events as ev
from tests.support.notifications_mailbox import MailBox
from tests.support.notifications_partner import Partner
from tests.support.services import eventually

SUBJECTS = {
    "kk": "Жаңа жас тренер тіркелді: {school}",
    "ru": "Зачислен новый юный тренер: {school}",
    "en": "A young trainer has been enrolled at {school}",
}
ALMATY = ZoneInfo("Asia/Almaty")
GRADE_LABEL = {"kk": "Сынып", "ru": "Класс", "en": "Grade"}


def address() -> str:
    return f"deputy-{uuid.uuid4().hex[:10]}@example.org"


async def test_enrolled_trainer_is_announced_to_the_school_coordinator_in_their_locale(
    notifications: httpx.AsyncClient, js: JetStreamContext, mailbox: MailBox
) -> None:
    sent: dict[str, tuple[str, str, uuid.UUID]] = {}
    for locale in ("kk", "ru", "en"):
        school_id, trainer_id, email = new_id(), new_id(), address()
        name = f"School-Lyceum No. {uuid.uuid4().int % 900 + 100} & <Partners>"
        await ev.publish(js, ev.school(school_id, name))
        await ev.publish(js, ev.contact(school_id, email, locale))
        await ev.publish(js, ev.enrolled(trainer_id, school_id, grade=11))
        sent[locale] = (email, name, trainer_id)

    for locale, (email, school_name, trainer_id) in sent.items():
        (mail,) = await eventually(partial(mails_to, mailbox, email))
        assert mail.rcpt_tos == [email]
        assert mail.message["To"].addresses[0].display_name == "Aigerim Sadykova"
        assert mail.message["Content-Language"] == locale
        assert mail.subject == SUBJECTS[locale].format(school=school_name)
        assert mail.message.get_content_type() == "multipart/alternative"
        assert f"{GRADE_LABEL[locale]}:" in mail.text
        assert "11" in mail.text
        assert "2026-09-14" in mail.text
        assert str(trainer_id) in mail.text
        # The school's name is escaped in HTML and kept as written in plain text.
        assert "&amp; &lt;Partners&gt;" in mail.html
        assert "<Partners>" not in mail.html
        assert "& <Partners>" in mail.text
        assert f'lang="{locale}"' in mail.html


async def test_mail_waits_for_a_contact_that_arrives_after_the_event_then_goes_once(
    notifications: httpx.AsyncClient, js: JetStreamContext, mailbox: MailBox
) -> None:
    school_id, trainer_id, email = new_id(), new_id(), address()
    await ev.publish(js, ev.enrolled(trainer_id, school_id))

    async def waiting() -> Any:
        found = await deliveries(notifications, school_id=str(school_id), channel="mail")
        return found if found and found[0]["waiting_for"] == "contact" else None

    (delivery,) = await eventually(waiting)
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 0
    assert "contact" in delivery["last_result"]

    await ev.publish(js, ev.contact(school_id, email, "ru"))
    (mail,) = await eventually(lambda: mails_to(mailbox, email))
    assert mail.message["Content-Language"] == "ru"
    assert "Школа:" not in mail.text  # the school's name has not arrived: no empty line for it

    (delivered,) = await eventually(
        lambda: deliveries(notifications, school_id=str(school_id), status="delivered")
    )
    assert delivered["recipient"] == email
    assert delivered["attempts"] == 1
    assert mailbox.to(email) == [mail]


async def test_certified_trainer_is_announced_to_their_school_even_if_certified_first(
    notifications: httpx.AsyncClient, js: JetStreamContext, mailbox: MailBox
) -> None:
    school_id, trainer_id, email = new_id(), new_id(), address()
    certified_id = await ev.publish(js, ev.milestone(MilestoneKind.TRAINER_CERTIFIED, trainer_id))

    async def waiting_for_trainer() -> Any:
        found = await deliveries(notifications, event_id=certified_id, channel="mail")
        return [d for d in found if d["waiting_for"] == "trainer"]

    await eventually(waiting_for_trainer)
    await ev.publish(js, ev.contact(school_id, email, "en"))
    await ev.publish(js, ev.school(school_id, "School-Gymnasium No. 25"))
    await ev.publish(js, ev.enrolled(trainer_id, school_id, grade=9))

    mails = await eventually(lambda: mails_to(mailbox, email, 2))
    by_subject = {m.subject: m for m in mails}
    certified_mail = by_subject["A young trainer of your school is certified"]
    assert "Certified on:  2026-11-02" in certified_mail.text
    assert "Grade:         9" in certified_mail.text
    assert "School:        School-Gymnasium No. 25" in certified_mail.text
    assert str(trainer_id) in certified_mail.html
    assert "A young trainer has been enrolled at School-Gymnasium No. 25" in by_subject


async def test_school_milestones_are_announced_and_programme_milestones_are_not(
    notifications: httpx.AsyncClient, js: JetStreamContext, mailbox: MailBox
) -> None:
    school_id, email = new_id(), address()
    await ev.publish(js, ev.contact(school_id, email, "kk"))
    reached = ev.milestone(
        MilestoneKind.SCHOOL_SESSIONS_20, school_id, evidence={"sessions_delivered": 20}
    )
    programme = ev.milestone(
        MilestoneKind.PROGRAMME_PEERS_1000, None, {"peer_participations": 1000}
    )
    programme_id = await ev.publish(js, programme)
    await ev.publish(js, reached)

    (mail,) = await eventually(lambda: mails_to(mailbox, email))
    # Kazakh typography: an en dash between the words of «тең-теңге» (peer to peer).
    title = "20 «тең \u2013 теңге» сабағы"
    assert mail.subject == f"Мектебіңіз жаңа белеске жетті: {title}"
    # The count is named in the coordinator's language, never by its key.
    assert "  Өткізілген сабақтар: 20\n" in mail.text
    assert "sessions_delivered" not in mail.text + mail.html
    assert "Өткізілген сабақтар</th><td>20</td>" in mail.html
    assert f"<strong>{title}</strong>" in mail.html
    found = await deliveries(notifications, channel="mail")
    assert not [d for d in found if d["event_id"] == programme_id]


class MovingClock:
    """Real time shifted to a chosen moment (retries and leases still move on); ``jump`` moves
    it to another moment."""

    def __init__(self, start: datetime) -> None:
        self.jump(start)

    def jump(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def test_weekly_summary_goes_once_per_school_and_week_at_the_set_hour(
    start_notifications: StartNotifications,
    js: JetStreamContext,
    mailbox: MailBox,
    partners: Any,
) -> None:
    school_id, email = new_id(), address()
    monday = date(2026, 3, 2)  # ISO week 2026-W10
    # Sunday 2026-03-08 in Almaty: the week is not over, its summary not due.
    clock = MovingClock(datetime(2026, 3, 8, 12, 0, tzinfo=ALMATY))
    watcher: Partner = await partners("watcher")
    async with start_notifications(clock=clock) as client:
        created = await client.post(
            "/v1/webhook-subscriptions",
            json={"partner": "watcher", "url": watcher.url, "event_types": ["yts.sessions.>"]},
        )
        assert created.status_code == 201
        await ev.publish(js, ev.contact(school_id, email, "en"))
        sessions: list[SessionCompleted | SessionCancelled] = [
            ev.session_completed(school_id, monday, participants=20, rating=4.0),
            ev.session_completed(school_id, monday + timedelta(days=2), 25, rating=5.0),
            ev.session_completed(school_id, monday + timedelta(days=3), 12, None),
            ev.session_cancelled(school_id, datetime(2026, 3, 6, 10, tzinfo=UTC)),
            # A session of the week after: not in this summary.
            ev.session_completed(school_id, monday + timedelta(days=7), 30),
        ]
        for session in sessions:
            await ev.publish(js, session)
        # Each session's webhook is made in the transaction that records it: all are known.
        for session in sessions:
            await eventually(partial(receipts_about, watcher, str(session.session_id)))
        assert mailbox.to(email) == []

        clock.jump(datetime(2026, 3, 9, 9, 0, tzinfo=ALMATY))  # Monday 09:00: W10 is due
        (mail,) = await eventually(lambda: mails_to(mailbox, email))
        assert mail.subject == "Peer sessions of your school, week 2026-W10"
        assert "(2026-03-02 to 2026-03-08)" in mail.text
        assert "Sessions delivered:   3" in mail.text
        assert "Peer participations:  57" in mail.text
        assert "Average rating:       4.5" in mail.text  # 10 forms at 4.0, 10 at 5.0
        assert "Sessions cancelled:   1" in mail.text
        # Sessions are named by their module's title, in the coordinator's language.
        assert "2026-03-04  Intercultural communication (Kazakh): 25 participants" in mail.text
        assert "intercultural-communication" not in mail.text + mail.html
        database_url = client.database_url  # type: ignore[attr-defined]

    # Started again on its database (or another replica), planning the week adds nothing.
    async with start_notifications(clock=clock, database_url=database_url) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        async with engine.db.transaction() as session:
            await engine.planner.plan_weekly_summaries(session, IsoWeek(2026, 10))
        found = await deliveries(client, school_id=str(school_id))
        assert [(d["message"], d["status"]) for d in found] == [("weekly_summary", "delivered")]
    assert len(mailbox.to(email)) == 1


async def test_smtp_refusals_are_retried_when_temporary_and_fail_at_once_when_permanent(
    notifications: httpx.AsyncClient, js: JetStreamContext, mailbox: MailBox
) -> None:
    later_school, later_email = new_id(), address()
    never_school, never_email = new_id(), address()
    mailbox.refuse(later_email, "451 4.3.0 Mailbox busy, try later", times=1)
    mailbox.refuse(never_email, "550 5.1.1 No such user")
    for school_id, email in ((later_school, later_email), (never_school, never_email)):
        await ev.publish(js, ev.contact(school_id, email, "en"))
        await ev.publish(js, ev.enrolled(new_id(), school_id))

    await eventually(lambda: mails_to(mailbox, later_email))
    (later,) = await eventually(
        lambda: deliveries(notifications, school_id=str(later_school), status="delivered")
    )
    detail = (await notifications.get(f"/v1/deliveries/{later['id']}")).json()
    assert [(a["outcome"], a["smtp_reply"][:3]) for a in detail["attempt_log"]] == [
        ("retry", "451"),
        ("delivered", "250"),
    ]

    (never,) = await eventually(
        lambda: deliveries(notifications, school_id=str(never_school), status="failed")
    )
    assert never["attempts"] == 1
    assert never["last_result"].startswith("550")
    assert mailbox.to(never_email) == []


@pytest.mark.parametrize(
    "bad_email",
    [
        "zzq..x@example.org",  # two dots in a row
        "deputy[12]@example.org",
        "deputy(12@example.org",
        "deputy(12)@example.org",  # a comment to mail: it would go to deputy@example.org
    ],
)
async def test_a_contact_mail_cannot_carry_fails_its_own_mail_and_later_mail_and_webhooks_go(
    notifications: httpx.AsyncClient,
    js: JetStreamContext,
    mailbox: MailBox,
    partners: Any,
    bad_email: str,
) -> None:
    watcher: Partner = await partners("watcher")
    subscribed = await notifications.post(
        "/v1/webhook-subscriptions",
        json={"partner": "watcher", "url": watcher.url, "event_types": ["yts.enrolment.>"]},
    )
    assert subscribed.status_code == 201
    bad_school, good_school, good_email = new_id(), new_id(), address()
    await ev.publish(js, ev.contact(bad_school, bad_email, "en"))
    bad_event = await ev.publish(js, ev.enrolled(new_id(), bad_school))
    # The mail to the bad contact is made first: the engine meets it before the others.
    await eventually(lambda: deliveries(notifications, event_id=bad_event, channel="mail"))
    await ev.publish(js, ev.contact(good_school, good_email, "en"))
    good_trainer = new_id()
    await ev.publish(js, ev.enrolled(good_trainer, good_school))

    await eventually(lambda: mails_to(mailbox, good_email))
    await eventually(partial(receipts_about, watcher, str(good_trainer)))
    (failed,) = await eventually(
        lambda: deliveries(notifications, event_id=bad_event, channel="mail", status="failed")
    )
    assert failed["attempts"] == 0
    assert failed["last_result"].startswith(
        f"not sent: the coordinator's address {bad_email!r} of school {bad_school} is not a "
        "valid mail address: "
    )
    assert failed["last_result"].endswith(
        "(correct the contact in enrolment, then retry this delivery)"
    )
    assert mailbox.to(bad_email) == []
    assert mailbox.to("deputy@example.org") == []
    # Its webhook is not held back by the mail either.
    bad_webhook = await deliveries(notifications, event_id=bad_event, channel="webhook")
    assert [d["status"] for d in bad_webhook] == ["delivered"]
    # Operations see failed mail without reading the delivery log.
    failed_mail = partial(metric, notifications, "yts_notification_deliveries")
    await eventually(lambda: failed_mail(channel="mail", status="failed"))


async def test_a_line_break_in_the_coordinators_name_does_not_stop_their_mail(
    notifications: httpx.AsyncClient, js: JetStreamContext, mailbox: MailBox
) -> None:
    school_id, email = new_id(), address()
    contact = ev.contact(school_id, email, "en", coordinator_name="Aigerim\nSadykova\r\n")
    await ev.publish(js, contact)
    await ev.publish(js, ev.enrolled(new_id(), school_id))

    (mail,) = await eventually(lambda: mails_to(mailbox, email))
    assert mail.message["To"].addresses[0].display_name == "Aigerim Sadykova"
    assert mail.rcpt_tos == [email]
