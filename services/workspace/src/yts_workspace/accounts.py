"""What is done to people's accounts, from the staff's pages and from the operator's command
line (``yts people``) alike: a sign-in link mailed, an invitation (an account and its first
link), access revoked at once everywhere."""

from __future__ import annotations

import uuid

from nats.js.client import JetStreamContext
from yts_chassis.access import Role, revoke_person, revoke_session

from yts_workspace import mail
from yts_workspace.i18n import LANGUAGES
from yts_workspace.links import Links
from yts_workspace.people import People, Person
from yts_workspace.settings import WorkspaceSettings
from yts_workspace.signins import SignIns


async def send_link(settings: WorkspaceSettings, links: Links, person: Person) -> None:
    """A new one-time sign-in link, mailed to the person in their language."""
    token = await links.make(person.id)
    link = f"{settings.public_url.rstrip('/')}/sign-in/link?token={token}"
    await mail.send(settings, mail.sign_in_mail(settings, person, link))


async def invite(
    settings: WorkspaceSettings,
    people: People,
    links: Links,
    *,
    email: str,
    name: str,
    role: Role,
    school_id: uuid.UUID | None,
    language: str,
) -> Person:
    """An account made (``EmailTaken`` if the address has one) and its first link mailed."""
    person = await people.add(
        email=email,
        name=name,
        role=role,
        school_id=school_id,
        language=language if language in LANGUAGES else "kk",
    )
    await send_link(settings, links, person)
    return person


async def revoke_access(
    js: JetStreamContext, people: People, signins: SignIns, person_id: uuid.UUID
) -> Person:
    """Access withdrawn at once: the account marked revoked (no new sign-in, no new token), its
    sessions ended, and every service told to refuse the tokens it holds."""
    person = await people.revoke(person_id)
    for ended in await signins.end_all_of(person.id):
        await revoke_session(js, ended.sid, reason="access revoked")
    await revoke_person(js, person.id)
    return person
