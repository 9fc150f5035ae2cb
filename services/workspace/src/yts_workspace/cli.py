"""The workspace's command line, for the operator (``yts people`` runs it with the settings of
the system it administers): people's accounts in the workspace's buckets, as its own NATS user.

    python -m yts_workspace.cli people add --email a@b.kz --name "Dana K." --role staff
    python -m yts_workspace.cli people list [--json]
    python -m yts_workspace.cli people revoke <id or e-mail>
    python -m yts_workspace.cli people link --email a@b.kz

``add`` mails the new person a sign-in link (unless ``--no-link``); ``link`` mails another.
Whether a coordinator's school exists is checked by the caller (``yts people add`` asks
enrolment, as ``yts tokens create`` does). Exit status 1 with a line on stderr when refused."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from nats.js.client import JetStreamContext
from yts_chassis.access import Role

from yts_workspace import accounts
from yts_workspace.buckets import LINKS_BUCKET, PEOPLE_BUCKET, SIGNINS_BUCKET
from yts_workspace.i18n import LANGUAGES
from yts_workspace.links import Links
from yts_workspace.main import connect
from yts_workspace.people import EmailTaken, People, Person, PersonNotKnown, valid_email
from yts_workspace.settings import WorkspaceSettings
from yts_workspace.signins import Lifetimes, SignIns

T = TypeVar("T")
ROLES = {"staff": Role.admin, "coordinator": Role.coordinator}


class Refused(Exception):
    """What the operator asked cannot be done; said on stderr."""


@dataclass
class Accounts:
    settings: WorkspaceSettings
    js: JetStreamContext
    people: People
    links: Links
    signins: SignIns


async def _with_accounts(
    settings: WorkspaceSettings, action: Callable[[Accounts], Awaitable[T]]
) -> T:
    nc = await connect(settings)
    try:
        js = nc.jetstream()
        return await action(
            Accounts(
                settings,
                js,
                People(await js.key_value(PEOPLE_BUCKET)),
                Links(await js.key_value(LINKS_BUCKET), timedelta(minutes=settings.link_minutes)),
                SignIns(
                    await js.key_value(SIGNINS_BUCKET),
                    Lifetimes(
                        idle=timedelta(minutes=settings.idle_minutes),
                        absolute=timedelta(hours=settings.absolute_hours),
                    ),
                ),
            )
        )
    finally:
        await nc.close()


def describe(person: Person) -> str:
    role = "staff" if person.role is Role.admin else "coordinator"
    state = f"revoked {person.revoked_at:%Y-%m-%d}" if person.revoked_at else "active"
    return (
        f"{person.id}  {role:<12}{person.school_id or '-'!s:<37}{person.language}  "
        f"{state:<19}{person.email}  {person.name}"
    )


async def _find(found: Accounts, who: str) -> Person:
    try:
        person = await found.people.get(uuid.UUID(who))
    except ValueError:
        person = await found.people.by_email(who)
    if person is None:
        raise Refused(f"no person {who!r} (give an id or an address from `people list`)")
    return person


async def add(found: Accounts, args: argparse.Namespace) -> str:
    role = ROLES[args.role]
    school = args.school_id
    if (role is Role.coordinator) != (school is not None):
        raise Refused("a coordinator belongs to a school (--school-id), and only a coordinator")
    if not valid_email(args.email):
        raise Refused(f"{args.email!r} is not an e-mail address")
    if not args.name.strip():
        raise Refused("--name cannot be empty")
    try:
        if args.link:
            person = await accounts.invite(
                found.settings,
                found.people,
                found.links,
                email=args.email,
                name=args.name,
                role=role,
                school_id=school,
                language=args.locale,
            )
        else:
            person = await found.people.add(
                email=args.email, name=args.name, role=role, school_id=school, language=args.locale
            )
    except EmailTaken:
        raise Refused(f"{args.email} has an account already (`people link` mails a link)") from None
    told = f"; a sign-in link was mailed to {person.email}" if args.link else ""
    return f"added {describe(person)}{told}"


async def list_people(found: Accounts, args: argparse.Namespace) -> str:
    listed = await found.people.all()
    if args.json:
        return "\n".join(person.model_dump_json() for person in listed)
    return "\n".join(describe(person) for person in listed) or "no people"


async def revoke(found: Accounts, args: argparse.Namespace) -> str:
    person = await _find(found, args.person)
    try:
        person = await accounts.revoke_access(found.js, found.people, found.signins, person.id)
    except PersonNotKnown:
        raise Refused(f"no person {args.person!r}") from None
    return f"revoked {describe(person)}; every service refuses their tokens now"


async def link(found: Accounts, args: argparse.Namespace) -> str:
    person = await _find(found, args.email)
    if not person.active:
        raise Refused(f"{person.email}'s access is revoked")
    await accounts.send_link(found.settings, found.links, person)
    return f"a sign-in link was mailed to {person.email}"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m yts_workspace.cli")
    groups = top.add_subparsers(dest="group", required=True)
    people = groups.add_parser("people", help="staff's and coordinators' accounts")
    commands = people.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="make an account and mail its first sign-in link")
    adding.add_argument("--email", required=True)
    adding.add_argument("--name", required=True)
    adding.add_argument("--role", required=True, choices=sorted(ROLES))
    adding.add_argument("--school-id", type=uuid.UUID, default=None)
    adding.add_argument("--locale", choices=LANGUAGES, default="kk")
    adding.add_argument("--link", action=argparse.BooleanOptionalAction, default=True)
    adding.set_defaults(run=add)
    listing = commands.add_parser("list", help="every account")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=list_people)
    revoking = commands.add_parser("revoke", help="withdraw a person's access at once")
    revoking.add_argument("person", help="the account's id or e-mail address")
    revoking.set_defaults(run=revoke)
    linking = commands.add_parser("link", help="mail a person a new sign-in link")
    linking.add_argument("--email", required=True)
    linking.set_defaults(run=link)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = WorkspaceSettings()
    try:
        said = asyncio.run(_with_accounts(settings, lambda found: args.run(found, args)))
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 1
    print(said)
    return 0


if __name__ == "__main__":
    sys.exit(main())
