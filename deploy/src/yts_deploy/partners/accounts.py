"""A partner's account: its name, NATS user, password (only a bcrypt hash is kept; the
password is printed once), the consumers it reads, and the credentials handed over."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import bcrypt

from yts_deploy.natsconfig import generate_password, inbox_prefix

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


BCRYPT_ROUNDS = 11


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

    @classmethod
    def of(cls, partner: Partner, password: str, url: str) -> Credentials:
        return cls(
            name=partner.name,
            url=url,
            user=partner.user,
            password=password,
            inbox_prefix=partner.inbox_prefix,
            consumers=list(partner.consumers),
        )

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


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


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
