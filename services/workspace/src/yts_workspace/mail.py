"""The sign-in link by mail (SMTP, settings as notifications' mail), in the person's language."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from yts_workspace.i18n import Words
from yts_workspace.people import Person
from yts_workspace.settings import WorkspaceSettings


def sign_in_mail(settings: WorkspaceSettings, person: Person, link: str) -> EmailMessage:
    words = Words(person.language)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = person.email
    message["Subject"] = words("mail.subject")
    message["Message-ID"] = make_msgid(domain="yts.local")
    message.set_content(
        words("mail.body", name=person.name, link=link, minutes=settings.link_minutes)
    )
    return message


async def send(settings: WorkspaceSettings, message: EmailMessage) -> None:
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        username=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout_seconds,
    )
