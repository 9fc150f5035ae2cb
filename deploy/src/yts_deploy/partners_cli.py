"""``yts partners``: give a partner organisation read access to public events over NATS.

Where it acts: with ``--config-dir`` / ``--nats-url`` (or ``YTS_NATS_CONFIG_DIR`` /
``YTS_NATS_URL``) on that server and configuration folder (compose: deploy/nats, then reload
the server); without them on the system ``yts up`` runs from ``--state-dir`` (found through
its local-access file, reloaded at once).

``add`` and ``rotate`` also write the partner's onboarding kit (partners/kit.py), by default in
``<state-dir>/partners/<name>/kit``; ``kit`` writes it again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from yts_deploy.natsconfig import PROVISIONER, SOURCE_DIR, LocalAccess, as_admin
from yts_deploy.partners import (
    Credentials,
    PartnerError,
    PartnerRegistry,
    add_partner,
    known_partner,
    reload_server,
    remove_partner,
    replay_partner,
    rotate_password,
)
from yts_deploy.partners.kit import INSTALL, RUN, Kit, KitError, default_folder, write_kit

partners_app = typer.Typer(
    help="Partner organisations: their NATS users and durable consumers.", no_args_is_help=True
)

T = TypeVar("T")


@dataclass
class Target:
    url: str
    user: str
    password: str | None
    config_dir: Path
    pid_file: Path | None
    public_url: str

    @property
    def registry(self) -> PartnerRegistry:
        return PartnerRegistry(self.config_dir)

    def run(self, action: Callable[[Any], Awaitable[T]]) -> T:
        return asyncio.run(as_admin(self.url, self.user, self.password, action))

    def reload(self) -> None:
        if self.pid_file is not None:
            pid = reload_server(self.pid_file)
            typer.echo(f"nats-server (pid {pid}) re-reads its users now", err=True)
        else:
            typer.echo(
                f"now make the server re-read {self.registry.users_path}: "
                "`docker compose kill -s HUP nats` (compose) or "
                "`nats-server --signal reload=<pid>`",
                err=True,
            )


StateDir = Annotated[
    Path, typer.Option(help="`yts up`'s state folder, used when no server is named")
]
ConfigDir = Annotated[
    Path | None,
    typer.Option(envvar="YTS_NATS_CONFIG_DIR", help="the server's configuration folder"),
]
NatsUrl = Annotated[str | None, typer.Option(envvar="YTS_NATS_URL", help="the server's URL")]
AdminUser = Annotated[
    str, typer.Option(envvar="YTS_NATS_USER", help="NATS user with provisioning rights")
]
AdminPassword = Annotated[
    str | None,
    typer.Option(
        envvar=["YTS_NATS_PASSWORD", "YTS_NATS_PROVISIONER_PASSWORD"],
        help="its password (none: a server without authentication)",
    ),
]
PublicUrl = Annotated[
    str | None,
    typer.Option(help="the URL partners connect to, if not --nats-url (e.g. behind TLS)"),
]
PidFile = Annotated[
    Path | None, typer.Option(help="nats-server's pid file: reload it after the change")
]
Since = Annotated[
    str | None,
    typer.Option(
        help="deliver events stored from this ISO date or time on (UTC unless an offset is "
        "given), e.g. 2024-09-01 or 2024-09-01T08:00:00+05:00"
    ),
]
FromStart = Annotated[
    bool, typer.Option("--from-start", help="deliver every stored event (the default)")
]
AsJson = Annotated[bool, typer.Option("--json", help="print the credentials as JSON")]
KitDir = Annotated[
    Path | None,
    typer.Option(
        "--kit",
        help="where to write the partner's onboarding kit (default: "
        "<state-dir>/partners/<name>/kit)",
    ),
]
NoKit = Annotated[bool, typer.Option("--no-kit", help="write no kit (it would hold the password)")]


def resolve_target(
    state_dir: Path,
    config_dir: Path | None,
    nats_url: str | None,
    user: str,
    password: str | None,
    public_url: str | None,
    pid_file: Path | None,
) -> Target:
    if config_dir is None and nats_url is None:
        local = LocalAccess.load(state_dir / "nats")
        if local is None:
            raise typer.BadParameter(
                f"no local system in {state_dir} (run `yts up`), or name a server with "
                "--nats-url and --config-dir (compose: --config-dir deploy/nats)"
            )
        return Target(
            url=local.url,
            user=PROVISIONER,
            password=local.passwords[PROVISIONER],
            config_dir=local.config_dir,
            pid_file=pid_file or local.pid_file,
            public_url=public_url or local.url,
        )
    url = nats_url or "nats://127.0.0.1:4222"
    return Target(
        url=url,
        user=user,
        password=password,
        config_dir=config_dir or SOURCE_DIR,
        pid_file=pid_file,
        public_url=public_url or url,
    )


def parse_since(since: str | None, from_start: bool) -> datetime | None:
    if since is None:
        return None
    if from_start:
        raise typer.BadParameter("give either --from-start or --since, not both")
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise typer.BadParameter(
            f"--since {since!r} is not an ISO date or time, e.g. 2024-09-01"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def print_credentials(credentials: Credentials, as_json: bool, kit: Kit | None = None) -> None:
    if as_json:
        raw = credentials.to_json()
        if kit is not None:
            raw["kit"] = str(kit.folder)
        typer.echo(json.dumps(raw, indent=2))
        return
    typer.echo(f"Partner {credentials.name!r}: hand these over (the password is shown only now)\n")
    typer.echo(f"  NATS URL       {credentials.url}")
    typer.echo(f"  user           {credentials.user}")
    typer.echo(f"  password       {credentials.password}")
    typer.echo(f"  inbox prefix   {credentials.inbox_prefix}")
    for consumer in credentials.consumers:
        typer.echo(
            f"  stream {consumer.stream:<15} durable {consumer.durable:<32} "
            f"types {', '.join(consumer.filter_subjects)}"
        )
    typer.echo("\nRead them with contracts/examples/partner_consumer.py (docs/partners.md):")
    for command in credentials.consumer_commands():
        typer.echo(f"  {command}")
    if kit is not None:
        print_kit(kit)


def print_kit(kit: Kit) -> None:
    password = "it holds the password" if kit.with_password else "without the password"
    typer.echo(f"\nOnboarding kit, to hand over ({password}): {kit.folder}")
    typer.echo(f"  install   {INSTALL}")
    typer.echo(f"  run       {RUN}")
    typer.echo("  then      its README.md says what the partner sees")


def kit_of(
    target: Target, name: str, password: str | None, state_dir: Path, folder: Path | None
) -> Kit:
    """Write the kit of the registered partner ``name`` (KitError if it cannot be)."""
    partner = known_partner(target.registry.load(), name)
    folder = folder or default_folder(state_dir, name)
    return write_kit(folder, partner, target.public_url, password)


def kit_after_credentials(
    target: Target, credentials: Credentials, state_dir: Path, folder: Path | None
) -> Kit | None:
    """The kit of a partner just given a password; a failure is reported, not raised: the
    credentials must still be printed (the password exists nowhere else)."""
    try:
        return kit_of(target, credentials.name, credentials.password, state_dir, folder)
    except (KitError, OSError) as error:
        typer.echo(
            f"warning: no onboarding kit ({error}); hand over the values below, or fix that "
            f"and run `yts partners kit {credentials.name}` (it cannot include the password)",
            err=True,
        )
        return None


def hand_over(
    target: Target,
    credentials: Credentials,
    *,
    state_dir: Path,
    as_json: bool,
    kit: Path | None,
    no_kit: bool,
) -> None:
    """After a new password: reload the server, write the kit, print the credentials."""
    target.reload()
    written = None if no_kit else kit_after_credentials(target, credentials, state_dir, kit)
    print_credentials(credentials, as_json, written)


def _fail(error: PartnerError | KitError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(2)


@partners_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="short name, e.g. unesco or city-education")],
    types: Annotated[
        list[str],
        typer.Option(
            "--types",
            help="event types or patterns of public streams, repeatable: 'yts.sessions.>'",
        ),
    ],
    from_start: FromStart = False,
    since: Since = None,
    state_dir: StateDir = Path(".state"),
    config_dir: ConfigDir = None,
    nats_url: NatsUrl = None,
    user: AdminUser = PROVISIONER,
    password: AdminPassword = None,
    public_url: PublicUrl = None,
    pid_file: PidFile = None,
    as_json: AsJson = False,
    kit: KitDir = None,
    no_kit: NoKit = False,
) -> None:
    """Create a partner's durable consumers and NATS user, print its credentials and write
    its onboarding kit."""
    start = parse_since(since, from_start)
    target = resolve_target(state_dir, config_dir, nats_url, user, password, public_url, pid_file)
    try:
        credentials = target.run(
            lambda js: add_partner(
                js, target.registry, name, list(types), since=start, url=target.public_url
            )
        )
    except PartnerError as error:
        raise _fail(error) from error
    hand_over(target, credentials, state_dir=state_dir, as_json=as_json, kit=kit, no_kit=no_kit)


@partners_app.command("rotate")
def rotate(
    name: str,
    state_dir: StateDir = Path(".state"),
    config_dir: ConfigDir = None,
    nats_url: NatsUrl = None,
    public_url: PublicUrl = None,
    pid_file: PidFile = None,
    as_json: AsJson = False,
    kit: KitDir = None,
    no_kit: NoKit = False,
) -> None:
    """Give a partner a new password (the old one stops working at the reload) and write its
    onboarding kit again."""
    target = resolve_target(
        state_dir, config_dir, nats_url, PROVISIONER, None, public_url, pid_file
    )
    try:
        credentials = rotate_password(target.registry, name, url=target.public_url)
    except PartnerError as error:
        raise _fail(error) from error
    hand_over(target, credentials, state_dir=state_dir, as_json=as_json, kit=kit, no_kit=no_kit)


@partners_app.command("kit")
def kit_command(
    name: str,
    state_dir: StateDir = Path(".state"),
    config_dir: ConfigDir = None,
    nats_url: NatsUrl = None,
    public_url: PublicUrl = None,
    kit: KitDir = None,
) -> None:
    """Write a partner's onboarding kit again (the wheel, schemas, example and README of this
    checkout). Only a hash of the password is kept: the kit has it only if the kit being
    rewritten holds it still valid; `yts partners rotate` writes one with a new password."""
    target = resolve_target(state_dir, config_dir, nats_url, PROVISIONER, None, public_url, None)
    try:
        written = kit_of(target, name, None, state_dir, kit)
    except (PartnerError, KitError) as error:
        raise _fail(error) from error
    print_kit(written)


@partners_app.command("replay")
def replay(
    name: str,
    from_start: FromStart = False,
    since: Since = None,
    state_dir: StateDir = Path(".state"),
    config_dir: ConfigDir = None,
    nats_url: NatsUrl = None,
    user: AdminUser = PROVISIONER,
    password: AdminPassword = None,
) -> None:
    """Restart a partner's consumers from the beginning or a date (to reload history)."""
    start = parse_since(since, from_start)
    target = resolve_target(state_dir, config_dir, nats_url, user, password, None, None)
    try:
        partner = target.run(lambda js: replay_partner(js, target.registry, name, since=start))
    except PartnerError as error:
        raise _fail(error) from error
    for consumer in partner.consumers:
        typer.echo(f"{consumer.stream}/{consumer.durable} delivers from {partner.start}")


@partners_app.command("remove")
def remove(
    name: str,
    state_dir: StateDir = Path(".state"),
    config_dir: ConfigDir = None,
    nats_url: NatsUrl = None,
    user: AdminUser = PROVISIONER,
    password: AdminPassword = None,
    pid_file: PidFile = None,
) -> None:
    """End a partner's access: its user and its consumers."""
    target = resolve_target(state_dir, config_dir, nats_url, user, password, None, pid_file)
    try:
        partner = target.run(lambda js: remove_partner(js, target.registry, name))
    except PartnerError as error:
        raise _fail(error) from error
    target.reload()
    typer.echo(f"removed {partner.user} and {len(partner.consumers)} consumer(s)")


@partners_app.command("list")
def list_partners(
    state_dir: StateDir = Path(".state"),
    config_dir: ConfigDir = None,
    nats_url: NatsUrl = None,
) -> None:
    """The partners of a configuration folder, their consumers and types."""
    target = resolve_target(state_dir, config_dir, nats_url, PROVISIONER, None, None, None)
    partners = target.registry.load()
    if not partners:
        typer.echo(f"no partners in {target.config_dir}")
    for partner in partners.values():
        streams = ", ".join(f"{c.stream}/{c.durable}" for c in partner.consumers)
        typer.echo(f"{partner.name:<20} {partner.user:<28} from {partner.start:<26} {streams}")
