"""What ``yts partners`` does: add, rotate, replay and remove a partner, each keeping the
registry and the server's consumers in step; the caller reloads the server."""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path

from nats.js.client import JetStreamContext

from yts_deploy.natsconfig import generate_password
from yts_deploy.partners.accounts import (
    Credentials,
    Partner,
    PartnerError,
    check_name,
    hash_password,
    new_partner,
    start_of,
)
from yts_deploy.partners.consumers import create_consumers, delete_consumers, plan_consumers
from yts_deploy.partners.registry import PartnerRegistry


def known_partner(partners: dict[str, Partner], name: str) -> Partner:
    """The partner ``name`` of ``partners``, or an error naming those there are."""
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
    return Credentials.of(partner, password, url)


def rotate_password(registry: PartnerRegistry, name: str, *, url: str) -> Credentials:
    """A new password; the old one stops working when the server reloads."""
    partners = registry.load()
    partner = known_partner(partners, name)
    password = generate_password()
    partner.password_hash = hash_password(password)
    registry.save(partners)
    return Credentials.of(partner, password, url)


async def replay_partner(
    js: JetStreamContext, registry: PartnerRegistry, name: str, *, since: datetime | None
) -> Partner:
    """Restart the partner's consumers from the beginning or from ``since`` (same user)."""
    partners = registry.load()
    partner = known_partner(partners, name)
    await create_consumers(js, name, partner.consumers, since, replace=True)
    partner.start = start_of(since)
    registry.save(partners)
    return partner


async def remove_partner(js: JetStreamContext, registry: PartnerRegistry, name: str) -> Partner:
    """Delete the partner's consumers and user (the caller reloads the server)."""
    partners = registry.load()
    partner = known_partner(partners, name)
    del partners[name]
    registry.save(partners)
    await delete_consumers(js, partner.consumers)
    return partner


def reload_server(pid_file: Path) -> int:
    """SIGHUP the nats-server whose pid is in ``pid_file``: it re-reads users and permissions
    without dropping other clients. Returns the pid."""
    pid = int(pid_file.read_text(encoding="utf-8").strip())
    os.kill(pid, signal.SIGHUP)
    return pid
