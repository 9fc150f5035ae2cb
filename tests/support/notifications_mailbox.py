"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the notifications
tests; it can be told to refuse mail for an address, for a while or for good."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from yts_deploy.natsserver import free_port


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        # Unfolding a long header leaves the folding space in front: mail readers trim it.
        return str(self.message["Subject"]).strip()

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        assert body.get_content_type() == f"text/{subtype}"
        return str(body.get_content())

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    @property
    def whole(self) -> str:
        """Every header and decoded part: what a person could read."""
        headers = "\n".join(f"{k}: {v}" for k, v in self.message.items())
        return "\n".join([headers, self.text, self.html])


class MailBox:
    """The aiosmtpd handler: ``refuse(address, reply, times)`` answers DATA with ``reply`` for
    that recipient ``times`` times (None: always)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[ReceivedMail] = []
        self.refused: list[tuple[str, str]] = []
        self._refusals: dict[str, tuple[str, int | None]] = {}
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> MailBox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def refuse(self, address: str, reply: str, times: int | None = None) -> None:
        with self._lock:
            self._refusals[address] = (reply, times)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            for address in envelope.rcpt_tos:
                if address in self._refusals:
                    reply, times = self._refusals[address]
                    if times is not None:
                        if times <= 1:
                            del self._refusals[address]
                        else:
                            self._refusals[address] = (reply, times - 1)
                    self.refused.append((address, reply))
                    return reply
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.mails.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[ReceivedMail]:
        with self._lock:
            return [m for m in self.mails if address in m.rcpt_tos]
