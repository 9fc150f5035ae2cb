"""Partner organisations reading events over NATS with their own user and durable consumers.

A core ``subscribe`` permission does not limit what a JetStream consumer delivers, so a partner
never creates consumers: provisioning makes one durable pull consumer per public stream it
reads, whose filter decides what it sees. Its NATS user may only look up, fetch from and ack
those consumers, and subscribe to its own reply-inbox prefix.

The registry (``partners.json``) sits beside ``users.conf`` in the server's configuration
folder; ``users.conf`` is rewritten from it (atomically) and the server re-reads it on SIGHUP.
Only a bcrypt hash of each password is kept; the password is printed once.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from yts_contracts.catalog import CATALOG
from yts_contracts.streams import StreamSpec, stream_for_subject, subject_matches

from yts_deploy.natsconfig import (
    PLATFORM_USERS,
    USERS_CONFIG,
    config_variable,
    generate_password,
    inbox_prefix,
)

REGISTRY_FILE = "partners.json"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
BCRYPT_ROUNDS = 11
PARTNER_ACK_WAIT_SECONDS = 60.0
PARTNER_MAX_ACK_PENDING = 1000


class PartnerError(ValueError):
    """A partner request that cannot be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class PartnerConsumer:
    stream: str
    durable: str
    filter_subjects: tuple[str, ...]

    def permissions(self) -> list[str]:
        """The only subjects a partner may publish to use this consumer."""
        return [
            f"$JS.API.CONSUMER.INFO.{self.stream}.{self.durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}",
            f"$JS.ACK.{self.stream}.{self.durable}.>",
        ]


@dataclass
class Partner:
    name: str
    consumers: list[PartnerConsumer]
    password_hash: str
    created_at: str
    start: str = "beginning"  # or an ISO time: where its consumers started

    @property
    def user(self) -> str:
        return user_name(self.name)

    @property
    def inbox_prefix(self) -> str:
        return inbox_prefix(self.user)

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["consumers"] = [
            {**asdict(c), "filter_subjects": list(c.filter_subjects)} for c in self.consumers
        ]
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Partner:
        consumers = [
            PartnerConsumer(c["stream"], c["durable"], tuple(c["filter_subjects"]))
            for c in raw["consumers"]
        ]
        return cls(
            name=raw["name"],
            consumers=consumers,
            password_hash=raw["password_hash"],
            created_at=raw["created_at"],
            start=raw.get("start", "beginning"),
        )


@dataclass
class Credentials:
    """What to hand over to a partner (the password exists nowhere else)."""

    name: str
    url: str
    user: str
    password: str
    inbox_prefix: str
    consumers: list[PartnerConsumer] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "user": self.user,
            "password": self.password,
            "inbox_prefix": self.inbox_prefix,
            "consumers": [
                {"stream": c.stream, "durable": c.durable, "types": list(c.filter_subjects)}
                for c in self.consumers
            ],
        }

    def consumer_commands(self) -> list[str]:
        """A copy-paste run of contracts/examples/partner_consumer.py per consumer."""
        return [
            f"YTS_PARTNER_NATS_URL={self.url} YTS_PARTNER_NATS_USER={self.user} "
            f"YTS_PARTNER_NATS_PASSWORD={self.password} "
            f"YTS_PARTNER_INBOX_PREFIX={self.inbox_prefix} "
            f"YTS_PARTNER_STREAM={c.stream} YTS_PARTNER_DURABLE={c.durable} "
            "python partner_consumer.py"
            for c in self.consumers
        ]


def user_name(partner: str) -> str:
    return f"partner-{partner}"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise PartnerError(
            f"partner name {name!r}: use 3-32 lowercase letters, digits and dashes, "
            "starting with a letter (e.g. unesco, city-education)"
        )
    return name


def _check_subject(pattern: str) -> None:
    tokens = pattern.split(".")
    for index, token in enumerate(tokens):
        if token == ">" and index == len(tokens) - 1:
            continue
        if token == "*" or SUBJECT_TOKEN.match(token):
            continue
        raise PartnerError(f"event type {pattern!r} is not a NATS subject (token {token!r})")


def public_stream_of(pattern: str) -> StreamSpec:
    """The public stream holding every event that ``pattern`` names; refuses the private and
    dead-letter streams and patterns spanning several streams."""
    _check_subject(pattern)
    try:
        stream = stream_for_subject(pattern)
    except KeyError:
        raise PartnerError(
            f"event type {pattern!r} is not held by one stream: name types per stream, e.g. "
            "'yts.enrolment.>', 'yts.sessions.>', 'yts.milestones.>'"
        ) from None
    if not stream.public:
        raise PartnerError(
            f"event type {pattern!r} is in {stream.name}, which partners may not read"
        )
    return stream


def durable_name(partner: str, stream: str) -> str:
    return f"partner-{partner}-{stream.removeprefix('YTS_').lower()}"


def plan_consumers(partner: str, types: list[str]) -> list[PartnerConsumer]:
    """One durable consumer per public stream, filtered to the requested types."""
    if not types:
        raise PartnerError("name at least one event type, e.g. --types 'yts.sessions.>'")
    by_stream: dict[str, list[str]] = {}
    for pattern in types:
        stream = public_stream_of(pattern)
        if not any(subject_matches(pattern, event_type) for event_type in CATALOG):
            raise PartnerError(f"event type {pattern!r} matches no event of the catalogue")
        chosen = by_stream.setdefault(stream.name, [])
        if pattern not in chosen:
            chosen.append(pattern)
    return [
        PartnerConsumer(stream, durable_name(partner, stream), tuple(subjects))
        for stream, subjects in by_stream.items()
    ]


def consumer_config(
    partner: str, consumer: PartnerConsumer, since: datetime | None
) -> ConsumerConfig:
    subjects = list(consumer.filter_subjects)
    config = ConsumerConfig(
        durable_name=consumer.durable,
        name=consumer.durable,
        description=f"partner {partner}: {', '.join(subjects)}",
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since.astimezone(UTC) if since else None,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=PARTNER_ACK_WAIT_SECONDS,
        max_ack_pending=PARTNER_MAX_ACK_PENDING,
    )
    if len(subjects) == 1:
        config.filter_subject = subjects[0]
    else:
        config.filter_subjects = subjects
    return config


async def create_consumers(
    js: JetStreamContext,
    partner: str,
    consumers: list[PartnerConsumer],
    since: datetime | None,
    *,
    replace: bool = False,
) -> None:
    """Create the partner's durable consumers; an existing one is an error unless ``replace``
    (then it is deleted first: a new start position needs a new consumer)."""
    for consumer in consumers:
        try:
            await js.consumer_info(consumer.stream, consumer.durable)
            exists = True
        except NotFoundError:
            exists = False
        if exists and not replace:
            raise PartnerError(
                f"consumer {consumer.stream}/{consumer.durable} already exists: "
                "remove the partner first or use `yts partners replay`"
            )
        if exists:
            await js.delete_consumer(consumer.stream, consumer.durable)
        await js.add_consumer(consumer.stream, config=consumer_config(partner, consumer, since))


async def delete_consumers(js: JetStreamContext, consumers: list[PartnerConsumer]) -> None:
    for consumer in consumers:
        try:
            await js.delete_consumer(consumer.stream, consumer.durable)
        except NotFoundError:
            continue


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def _quote(value: str) -> str:
    # A quoted string in a NATS configuration is taken literally ($ included).
    if '"' in value or "\\" in value or "\n" in value:
        raise PartnerError(f"cannot write {value!r} into the NATS configuration")
    return f'"{value}"'


def _user_block(partner: Partner) -> str:
    publish = "\n".join(
        f"            {_quote(subject)}" for c in partner.consumers for subject in c.permissions()
    )
    streams = ", ".join(f"{c.stream}/{c.durable}" for c in partner.consumers)
    return (
        f"    # partner {partner.name} (added {partner.created_at}): {streams}\n"
        "    {\n"
        f"      user: {_quote(partner.user)}\n"
        f"      password: {_quote(partner.password_hash)}\n"
        "      permissions: {\n"
        "        publish: {\n"
        "          allow: [\n"
        f"{publish}\n"
        "          ]\n"
        "        }\n"
        f"        subscribe: {{ allow: [{_quote(partner.inbox_prefix + '.>')}] }}\n"
        "      }\n"
        "    }\n"
    )


# `yts up` only (a server on 127.0.0.1 of a developer's machine): tools connecting without
# credentials (the nats CLI, a test reading the streams) act as this user, with every right.
# The services still connect as their own users; deploy/nats never has it.
DEVELOPER_BLOCK = (
    "    # yts up only: connections without credentials, from this machine\n"
    '    { user: "developer" }\n'
)
DEVELOPER_DEFAULT = (
    "\n# yts up only: who a connection without credentials is\nno_auth_user: developer\n"
)


def render_users_config(partners: list[Partner], *, developer: bool = False) -> str:
    platform = "".join(f"    ${config_variable(user)}\n" for user in PLATFORM_USERS)
    return (
        "# Written by `yts partners` from partners.json beside it: change partners with that "
        "command,\n"
        "# not by hand. The platform's own users and their permissions are in "
        "service-users.conf.\n"
        "include ./service-users.conf\n"
        "\n"
        "authorization {\n"
        "  users = [\n"
        f"{platform}"
        + (DEVELOPER_BLOCK if developer else "")
        + "".join(_user_block(p) for p in partners)
        + "  ]\n"
        "}\n" + (DEVELOPER_DEFAULT if developer else "")
    )


def _write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    # The server may re-read the file at any moment: it must never see half of it.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class PartnerRegistry:
    """partners.json and users.conf of one NATS configuration folder."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir

    @property
    def registry_path(self) -> Path:
        return self.config_dir / REGISTRY_FILE

    @property
    def users_path(self) -> Path:
        return self.config_dir / USERS_CONFIG

    def _raw(self) -> dict[str, Any]:
        if not self.registry_path.exists():
            return {"partners": []}
        raw: dict[str, Any] = json.loads(self.registry_path.read_text(encoding="utf-8"))
        return raw

    def load(self) -> dict[str, Partner]:
        return {entry["name"]: Partner.from_json(entry) for entry in self._raw()["partners"]}

    @property
    def developer(self) -> bool:
        """Whether this is a `yts up` folder whose server lets local tools in unnamed."""
        return bool(self._raw().get("developer", False))

    def save(self, partners: dict[str, Partner], *, developer: bool | None = None) -> None:
        """Write partners.json, then users.conf from the same partners."""
        keep = self.developer if developer is None else developer
        ordered = [partners[name] for name in sorted(partners)]
        raw: dict[str, Any] = {"partners": [partner.to_json() for partner in ordered]}
        if keep:
            raw["developer"] = True
        _write_atomically(self.registry_path, json.dumps(raw, indent=2) + "\n", 0o600)
        _write_atomically(self.users_path, render_users_config(ordered, developer=keep))


def start_of(since: datetime | None) -> str:
    """Where a partner's consumers start, as the registry keeps it."""
    return since.astimezone(UTC).isoformat() if since else "beginning"


def new_partner(
    name: str, consumers: list[PartnerConsumer], since: datetime | None
) -> tuple[Partner, str]:
    password = generate_password()
    partner = Partner(
        name=name,
        consumers=consumers,
        password_hash=hash_password(password),
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        start=start_of(since),
    )
    return partner, password


def _credentials(partner: Partner, password: str, url: str) -> Credentials:
    return Credentials(
        name=partner.name,
        url=url,
        user=partner.user,
        password=password,
        inbox_prefix=partner.inbox_prefix,
        consumers=list(partner.consumers),
    )


def _known(partners: dict[str, Partner], name: str) -> Partner:
    if name not in partners:
        known = ", ".join(sorted(partners)) or "none"
        raise PartnerError(f"no partner named {name!r} (known: {known})")
    return partners[name]


async def add_partner(
    js: JetStreamContext,
    registry: PartnerRegistry,
    name: str,
    types: list[str],
    *,
    since: datetime | None,
    url: str,
) -> Credentials:
    """Create the partner's consumers, then its user (the caller reloads the server)."""
    check_name(name)
    partners = registry.load()
    if name in partners:
        raise PartnerError(
            f"partner {name!r} exists: `yts partners rotate` gives a new password, "
            "`yts partners replay` restarts its consumers, `yts partners remove` ends its access"
        )
    consumers = plan_consumers(name, types)
    await create_consumers(js, name, consumers, since)
    partner, password = new_partner(name, consumers, since)
    partners[name] = partner
    try:
        registry.save(partners)
    except BaseException:
        await delete_consumers(js, consumers)  # leave nothing half-made
        raise
    return _credentials(partner, password, url)


def rotate_password(registry: PartnerRegistry, name: str, *, url: str) -> Credentials:
    """A new password; the old one stops working when the server reloads."""
    partners = registry.load()
    partner = _known(partners, name)
    password = generate_password()
    partner.password_hash = hash_password(password)
    registry.save(partners)
    return _credentials(partner, password, url)


async def replay_partner(
    js: JetStreamContext, registry: PartnerRegistry, name: str, *, since: datetime | None
) -> Partner:
    """Restart the partner's consumers from the beginning or from ``since`` (same user)."""
    partners = registry.load()
    partner = _known(partners, name)
    await create_consumers(js, name, partner.consumers, since, replace=True)
    partner.start = start_of(since)
    registry.save(partners)
    return partner


async def remove_partner(js: JetStreamContext, registry: PartnerRegistry, name: str) -> Partner:
    """Delete the partner's consumers and user (the caller reloads the server)."""
    partners = registry.load()
    partner = _known(partners, name)
    del partners[name]
    registry.save(partners)
    await delete_consumers(js, partner.consumers)
    return partner


def reload_server(pid_file: Path) -> int:
    """SIGHUP the nats-server whose pid is in ``pid_file``: it re-reads users and permissions
    without dropping other clients. Returns the pid."""
    import signal

    pid = int(pid_file.read_text(encoding="utf-8").strip())
    os.kill(pid, signal.SIGHUP)
    return pid
