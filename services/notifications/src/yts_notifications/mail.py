"""Mail to school coordinators: Jinja2 templates (one file per message and locale, each with a
subject, a plain-text part and an HTML part) and sending over real SMTP with aiosmtplib.

Trainers are described by grade, enrolment date and their opaque reference only: the service
never has their names, and coordinators see names in the enrolment service."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from yts_notifications.curriculum import ModuleNames, load_module_titles
from yts_notifications.domain import Verdict, smtp_verdict, unreachable
from yts_notifications.i18n import LOCALES, Wording
from yts_notifications.settings import NotificationsSettings
from yts_notifications.store import MailMessage


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    locale: str


class MailTemplates:
    """``templates/mail/<message>.<locale>.j2``; the shared HTML frame is autoescaped by its
    name, and each HTML block turns autoescaping on for itself. Each template gets ``words``
    (``i18n.Wording``) for the milestone titles, counts, module titles, language names and
    numbers of its locale; the context itself holds data (kinds, ids, numbers), not text."""

    def __init__(self, module_titles: Mapping[str, ModuleNames] | None = None) -> None:
        self.module_titles = load_module_titles() if module_titles is None else module_titles
        self.env = Environment(
            loader=PackageLoader("yts_notifications", "templates/mail"),
            autoescape=select_autoescape(
                enabled_extensions=("html.j2",), default_for_string=False, default=False
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, message: MailMessage, locale: str, context: dict[str, Any]) -> RenderedMail:
        if locale not in LOCALES:
            locale = "en"
        template = self.env.get_template(f"{message.value}.{locale}.j2")
        context = {**context, "words": Wording(locale, self.module_titles)}
        # Top-level {% set %}s (e.g. a milestone's title) are not seen by a block rendered on
        # its own: run the template once as a module and hand its exports to the blocks.
        module = template.make_module(context)
        exports = {k: v for k, v in vars(module).items() if not k.startswith("_")}
        blocks = template.new_context({**context, **exports})

        def block(name: str) -> str:
            return "".join(template.blocks[name](blocks))

        # Line breaks and runs of spaces become one space; no-break spaces (1 000) stay.
        subject = re.sub(r"[ \t\r\n]+", " ", block("subject")).strip()
        return RenderedMail(
            subject=subject,
            text=block("text").strip("\n") + "\n",
            html=block("html").strip() + "\n",
            locale=locale,
        )


def compose(
    rendered: RenderedMail,
    *,
    sender: str,
    to: Address,
    message_id: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # The same Message-ID on every attempt of one delivery: a mail resent after a crash can be
    # recognised as the same message.
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    # After the parts: setting content clears the Content-* headers.
    message["Content-Language"] = rendered.locale
    return message


def message_id_for(delivery_id: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "yts.invalid"
    return f"<{delivery_id}@{domain}>"


class Mailer:
    """One SMTP session per mail: simple, and a broken connection never poisons the next."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> Verdict:
        settings = self.settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            async with asyncio.timeout(settings.smtp_timeout_seconds):
                _refused, reply = await aiosmtplib.send(
                    message,
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    username=settings.smtp_user,
                    password=password,
                    use_tls=settings.smtp_security == "tls",
                    # False, not None: None would upgrade opportunistically.
                    start_tls=settings.smtp_security == "starttls",
                    timeout=settings.smtp_timeout_seconds,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            worst = max(exc.recipients, key=lambda r: r.code)
            return smtp_verdict(worst.code, worst.message)
        except aiosmtplib.SMTPResponseException as exc:
            return smtp_verdict(exc.code, exc.message)
        except TimeoutError:
            return unreachable(f"SMTP timed out after {settings.smtp_timeout_seconds:g}s")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return unreachable(f"SMTP unreachable: {type(exc).__name__}: {exc}")
        return smtp_verdict(250, reply)
