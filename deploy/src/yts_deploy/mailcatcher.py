"""The local mail catcher of ``yts up``: an SMTP server (aiosmtpd) that keeps every mail the
notifications service sends as an ``.eml`` file under the state folder, and a page that lists
them and shows each one as its recipient would read it.

Run by the local runner as ``uvicorn --factory yts_deploy.mailcatcher:create_app`` with
``YTS_MAILCATCHER_DIR`` and ``YTS_MAILCATCHER_SMTP_PORT``; the SMTP server lives on the web
app's event loop and starts with it, so ``/readyz`` answering means mail is accepted.
Development only: it accepts mail from anyone who can reach its loopback port."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

# A kept mail's file name: when it arrived (sorts in order) and a random part.
NAME = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{32}$")
PAGE_SIZE = 200
# The pages load nothing from anywhere; a mail's own HTML is framed from this origin and may
# run no script and fetch nothing (a mail could carry anything).
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'"
MAIL_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


class MailFolder:
    """Mails as ``.eml`` files, one per message, written whole then renamed into place."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def keep(self, content: bytes) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex}"
        partial = self.path / f".{name}.partial"
        # 0600: a mail names the coordinator and the trainers it is about.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        partial.rename(self.path / f"{name}.eml")
        return name

    def names(self) -> list[str]:
        """Newest first."""
        if not self.path.exists():
            return []
        return sorted((p.stem for p in self.path.glob("*.eml") if NAME.match(p.stem)), reverse=True)

    def file(self, name: str) -> Path:
        path = self.path / f"{name}.eml"
        if not NAME.match(name) or not path.exists():
            raise HTTPException(404, "no such mail")
        return path

    def read(self, name: str) -> EmailMessage:
        with self.file(name).open("rb") as file:
            message = BytesParser(policy=policy.default).parse(file)
        assert isinstance(message, EmailMessage)
        return message


@dataclass(frozen=True)
class Summary:
    name: str
    received_at: datetime
    sender: str
    to: str
    subject: str

    @classmethod
    def of(cls, name: str, message: EmailMessage) -> Summary:
        received = datetime.strptime(name.split("-")[0], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        date = message["Date"]
        return cls(
            name=name,
            received_at=parsedate_to_datetime(str(date)) if date else received,
            sender=str(message["From"] or ""),
            to=str(message["To"] or ""),
            subject=str(message["Subject"] or ""),
        )

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.name,
            "received_at": self.received_at.isoformat(),
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
        }


class KeepMail:
    """aiosmtpd's handler: every accepted message becomes a file."""

    def __init__(self, folder: MailFolder) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        await asyncio.to_thread(self.folder.keep, content)
        return "250 kept"


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None:
        return None
    content = body.get_content()
    return content if isinstance(content, str) else None


def create_app() -> Starlette:
    folder = MailFolder(Path(os.environ["YTS_MAILCATCHER_DIR"]))
    smtp_port = int(os.environ["YTS_MAILCATCHER_SMTP_PORT"])
    templates = Environment(
        loader=PackageLoader("yts_deploy", "templates"), autoescape=select_autoescape()
    )

    def page(template: str, **context: Any) -> HTMLResponse:
        html = templates.get_template(template).render(smtp_port=smtp_port, **context)
        return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_POLICY})

    def summaries() -> tuple[int, list[Summary]]:
        """How many mails are kept, and the newest ``PAGE_SIZE`` of them."""
        names = folder.names()
        return len(names), [Summary.of(name, folder.read(name)) for name in names[:PAGE_SIZE]]

    async def index(request: Request) -> Response:
        total, mails = await asyncio.to_thread(summaries)
        return page("mails.html.j2", mails=mails, total=total)

    async def mail(request: Request) -> Response:
        name = request.path_params["name"]
        message = await asyncio.to_thread(folder.read, name)
        return page(
            "mail.html.j2",
            mail=Summary.of(name, message),
            text=_part(message, "plain"),
            has_html=_part(message, "html") is not None,
        )

    async def mail_html(request: Request) -> Response:
        message = await asyncio.to_thread(folder.read, request.path_params["name"])
        html = _part(message, "html")
        if html is None:
            raise HTTPException(404, "this mail has no HTML part")
        return HTMLResponse(html, headers={"Content-Security-Policy": MAIL_POLICY})

    async def raw(request: Request) -> Response:
        return FileResponse(folder.file(request.path_params["name"]), media_type="message/rfc822")

    async def listing(request: Request) -> Response:
        total, mails = await asyncio.to_thread(summaries)
        return JSONResponse({"total": total, "items": [m.as_json() for m in mails]})

    async def ready(request: Request) -> Response:
        return JSONResponse({"status": "ready", "smtp_port": smtp_port})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        handler = KeepMail(folder)
        server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(handler, hostname="yts-mailcatcher"), "127.0.0.1", smtp_port
        )
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    return Starlette(
        routes=[
            Route("/", index),
            Route("/mails/{name}.eml", raw),  # before /mails/{name}, which would take it
            Route("/mails/{name}/html", mail_html),
            Route("/mails/{name}", mail),
            Route("/api/mails", listing),
            Route("/readyz", ready),
        ],
        lifespan=lifespan,
    )
