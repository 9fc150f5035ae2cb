"""The ``yts`` command."""

from __future__ import annotations

import asyncio
import re
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext
from nats.js.errors import BucketNotFoundError
from yts_chassis.access import (
    DEFAULT_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    IssuedToken,
    Role,
    StaticTokens,
    TokenAmbiguous,
    TokenNotFound,
    TokenRecord,
)

from yts_deploy.demo import DemoError, run_demo
from yts_deploy.natsconfig import (
    PROVISIONER,
    REBUILDER,
    SOURCE_DIR,
    LocalAccess,
    as_admin,
    generate_password,
    inbox_prefix,
)
from yts_deploy.partners_cli import AdminPassword, AdminUser, partners_app
from yts_deploy.people_cli import demo_people, people_app
from yts_deploy.runner import (
    DEFAULT_PORTS,
    SERVICES,
    LocalSystem,
    kept_admin_token,
    provision_at,
)
from yts_deploy.schools import check_school_exists

app = typer.Typer(
    help="Young Trainers' School platform: run, provision, administer.", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="Static bearer tokens for integrations and scripts (only hashes are stored).",
    no_args_is_help=True,
)
app.add_typer(tokens_app, name="tokens")
reporting_app = typer.Typer(help="Reporting read models.", no_args_is_help=True)
app.add_typer(reporting_app, name="reporting")
app.add_typer(partners_app, name="partners")
app.add_typer(people_app, name="people")

STATE = Path(".state")
T = TypeVar("T")


class DemoSize(StrEnum):
    full = "full"
    small = "small"


REPO_ROOT = SOURCE_DIR.parents[1]


@app.command()
def up(
    state_dir: Annotated[Path, typer.Option(help="where NATS, databases and logs live")] = STATE,
    nats_port: Annotated[int, typer.Option(help="NATS port; another is picked if taken")] = 4222,
    demo: Annotated[bool, typer.Option(help="fill an empty system with a demo programme")] = False,
    demo_size: Annotated[DemoSize, typer.Option(help="full: 35 schools; small: 4")] = DemoSize.full,
    http_port: Annotated[
        int, typer.Option(help="enrolment's port; sessions, notifications, reporting follow")
    ] = DEFAULT_PORTS["enrolment"],
    loopback_webhooks: Annotated[
        bool,
        typer.Option(
            help="accept partners' webhooks to plain http:// on this machine (development; "
            "sets YTS_NOTIFICATIONS_ALLOW_INSECURE_LOOPBACK_WEBHOOKS)"
        ),
    ] = True,
) -> None:
    """Run everything on this machine until Ctrl-C."""
    system = LocalSystem(
        state_dir=state_dir.resolve(),
        nats_port=nats_port,
        http_ports={n: http_port + DEFAULT_PORTS[n] - DEFAULT_PORTS["enrolment"] for n in SERVICES},
        say=typer.echo,
        loopback_webhooks=loopback_webhooks,
    )
    stop = False
    waiting = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True
        if not waiting:  # still starting or loading the demo: stop right away
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        typer.echo("starting NATS and the four services ...")
        system.start()
        assert system.nats is not None
        urls = {name: service.url for name, service in system.services.items()}
        typer.echo(f"\nNATS          {system.nats.url}  (JetStream store: {system.nats.store_dir})")
        typer.echo(f"NATS monitor  http://127.0.0.1:{system.nats.monitor_port}/jsz")
        for name, service in system.services.items():
            typer.echo(f"{name:<14}{service.url}   docs: {service.url}/docs")
        assert system.mail is not None
        if system.workspace is not None:
            typer.echo(
                f"workspace     {system.workspace.url}   (sign in with a link mailed to you: "
                f"yts people add --email you@example.org --name 'Your Name' --role staff, then "
                f"open the link in the mail catcher)"
            )
        typer.echo(
            f"mail          {system.mail.url}   (SMTP 127.0.0.1:{system.smtp_port}; "
            f"kept in {system.mail_dir})"
        )
        typer.echo(f"\nadmin token   {system.token}")
        typer.echo(f"logs          {state_dir / 'logs'}")
        typer.echo(
            "partners      yts partners add <name> --types 'yts.sessions.>'  "
            "(prints NATS credentials)"
        )
        if demo:
            typer.echo("\nloading the demo programme through the API ...")
            try:
                run_demo(urls, system.token, scale=demo_size.value, say=typer.echo)
            except DemoError as error:
                typer.echo(f"demo not loaded: {error}", err=True)
            if system.workspace is not None:
                demo_people(system.state_dir, urls["enrolment"], system.token, typer.echo)
        typer.echo("\nCtrl-C stops everything.")
        waiting = True
        while not stop:
            dead = system.first_dead()
            if dead:
                typer.echo(f"{dead} stopped unexpectedly; shutting down (see its log)", err=True)
                raise typer.Exit(1)
            time.sleep(0.5)
    finally:
        typer.echo("stopping ...")
        system.stop()
        typer.echo("stopped")


@app.command("provision")
def provision_command(
    nats_url: Annotated[
        str, typer.Option(envvar="YTS_NATS_URL", help="a NATS server's URL")
    ] = "nats://127.0.0.1:4222",
    user: AdminUser = PROVISIONER,
    password: AdminPassword = None,
    replicas: Annotated[int, typer.Option(min=1, max=5)] = 1,
    fix: Annotated[bool, typer.Option(help="update streams/consumers that drifted")] = False,
    wait: Annotated[
        float,
        typer.Option(help="seconds to keep retrying while NATS or JetStream is not up yet"),
    ] = 0.0,
) -> None:
    """Create or check the streams and durable consumers (idempotent; reports drift)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            report = asyncio.run(
                provision_at(nats_url, replicas=replicas, fix=fix, user=user, password=password)
            )
            break
        except (OSError, TimeoutError, NatsError) as exc:
            # Not there yet (a starting container, a cluster electing its leader): retry.
            if time.monotonic() >= deadline:
                typer.echo(f"cannot provision {nats_url}: {exc!r}", err=True)
                raise typer.Exit(1) from exc
            typer.echo(f"NATS not ready ({exc!r}); retrying", err=True)
            time.sleep(1.0)
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        typer.echo("drift found: nothing was changed; re-run with --fix to apply", err=True)
        raise typer.Exit(1)


@app.command("demo")
def demo_command(
    token: Annotated[
        str | None,
        typer.Option(envvar="YTS_ADMIN_TOKEN", help="admin token (default: `yts up`'s)"),
    ] = None,
    enrolment_url: Annotated[str, typer.Option()] = "http://127.0.0.1:8001",
    sessions_url: Annotated[str, typer.Option()] = "http://127.0.0.1:8002",
    notifications_url: Annotated[str, typer.Option()] = "http://127.0.0.1:8003",
    reporting_url: Annotated[str, typer.Option()] = "http://127.0.0.1:8004",
    size: Annotated[DemoSize, typer.Option(help="full: 35 schools; small: 4")] = DemoSize.full,
    state_dir: Annotated[Path, typer.Option(help="where `yts up` keeps its token")] = STATE,
) -> None:
    """Fill an empty running system (compose, or `yts up` in another terminal) with the demo
    programme through its HTTP API."""
    token = token or kept_admin_token(state_dir)
    if token is None:
        raise typer.BadParameter("give --token (or YTS_ADMIN_TOKEN): the admin token")
    urls = {
        "enrolment": enrolment_url.rstrip("/"),
        "sessions": sessions_url.rstrip("/"),
        "notifications": notifications_url.rstrip("/"),
        "reporting": reporting_url.rstrip("/"),
    }
    try:
        run_demo(urls, token, scale=size.value, say=typer.echo)
    except DemoError as error:
        typer.echo(f"demo not loaded: {error}", err=True)
        raise typer.Exit(1) from error


@app.command("env")
def env_file(
    template: Annotated[
        Path, typer.Option(help="the template whose CHANGE_ME values are filled")
    ] = REPO_ROOT / ".env.example",
) -> None:
    """Print a compose .env: the template with every CHANGE_ME replaced by a fresh secret."""
    from yts_chassis.access import generate_token

    for line in template.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if value == "CHANGE_ME" and not line.startswith("#"):
            secret = generate_token() if key == "YTS_ADMIN_TOKEN" else generate_password()
            line = f"{key}={secret}"
        typer.echo(line)


TokensStateDir = Annotated[
    Path,
    typer.Option(help="`yts up`'s state folder: its NATS and admin token, when no server is named"),
]
TokensNatsUrl = Annotated[
    str | None,
    typer.Option(envvar="YTS_NATS_URL", help="the NATS server holding the access bucket"),
]


@dataclass(frozen=True)
class AccessServer:
    url: str
    user: str
    password: str | None

    def run(self, action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        try:
            return asyncio.run(as_admin(self.url, self.user, self.password, action))
        except BucketNotFoundError:
            typer.echo(f"no access bucket on {self.url}: run `yts provision` first", err=True)
            raise typer.Exit(1) from None
        except (OSError, TimeoutError, NatsError) as exc:
            typer.echo(f"cannot reach NATS at {self.url}: {exc!r}", err=True)
            raise typer.Exit(1) from exc


def access_server(
    state_dir: Path, nats_url: str | None, user: str, password: str | None
) -> AccessServer:
    """The server named, or else the one `yts up` runs from ``state_dir``, as the operator's
    (provisioner) user: only it may write the access buckets."""
    if nats_url is not None:
        return AccessServer(nats_url, user, password)
    local = LocalAccess.load(state_dir / "nats")
    if local is None:
        raise typer.BadParameter(
            f"no system was started with the state folder {state_dir}: give the --state-dir "
            "of your `yts up`, or --nats-url (and the provisioner's password)",
            param_hint="--state-dir",
        )
    return AccessServer(local.url, PROVISIONER, local.passwords[PROVISIONER])


_DURATION = re.compile(r"(\d+)\s*([dh]?)")


def parse_lifetime(value: str) -> timedelta:
    """``365d``, ``12h`` or a number of days."""
    match = _DURATION.fullmatch(value.strip().lower())
    if match is None:
        raise typer.BadParameter(f"{value!r}: give days (90d, or 90) or hours (12h)")
    count, unit = int(match[1]), match[2] or "d"
    lifetime = timedelta(hours=count) if unit == "h" else timedelta(days=count)
    if not timedelta(hours=1) <= lifetime <= MAX_TOKEN_LIFETIME:
        raise typer.BadParameter(
            f"{value!r}: a token lives from 1 hour to {MAX_TOKEN_LIFETIME.days} days"
        )
    return lifetime


@tokens_app.command("create")
def create_token(
    role: Annotated[Role, typer.Option()],
    label: Annotated[str, typer.Option(help="who holds it, e.g. a partner's integration")],
    school: Annotated[uuid.UUID | None, typer.Option(help="school id, for coordinators")] = None,
    expires_in: Annotated[
        str,
        typer.Option(
            help=f"lifetime: days (365d) or hours (12h); at most {MAX_TOKEN_LIFETIME.days} days"
        ),
    ] = f"{DEFAULT_TOKEN_LIFETIME.days}d",
    state_dir: TokensStateDir = STATE,
    nats_url: TokensNatsUrl = None,
    user: AdminUser = PROVISIONER,
    password: AdminPassword = None,
    enrolment_url: Annotated[
        str, typer.Option(envvar="YTS_ENROLMENT_URL", help="where to check that the school exists")
    ] = "http://127.0.0.1:8001",
    admin_token: Annotated[
        str | None,
        typer.Option(envvar="YTS_ADMIN_TOKEN", help="admin token (default: the state folder's)"),
    ] = None,
    check_school: Annotated[
        bool, typer.Option(help="ask enrolment whether the coordinator's school exists")
    ] = True,
) -> None:
    """Make a token; it is printed once and only its hash is stored (in the tokens bucket
    every service follows)."""
    lifetime = parse_lifetime(expires_in)
    server = access_server(state_dir, nats_url, user, password)
    if (role is Role.coordinator) != (school is not None):
        raise typer.BadParameter(
            "a coordinator token is bound to a school (--school), and only a coordinator's",
            param_hint="--school",
        )
    if school is not None and check_school:
        token = admin_token or kept_admin_token(state_dir)
        if token is None:
            raise typer.BadParameter(
                "give --admin-token (or YTS_ADMIN_TOKEN) to check the school, or --no-check-school",
                param_hint="--admin-token",
            )
        check_school_exists(enrolment_url.rstrip("/"), token, school)

    async def create(js: JetStreamContext) -> IssuedToken:
        return await (await StaticTokens.of(js)).create(role, label, school, expires_in=lifetime)

    try:
        issued = server.run(create)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    record = issued.record
    typer.echo(
        f"token {record.id} for {record.label!r} ({record.role}), expires "
        f"{record.expires_at:%Y-%m-%d %H:%M} UTC; shown only now:",
        err=True,
    )
    typer.echo(issued.token)


@tokens_app.command("list")
def list_tokens(
    state_dir: TokensStateDir = STATE,
    nats_url: TokensNatsUrl = None,
    user: AdminUser = PROVISIONER,
    password: AdminPassword = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per token")] = False,
) -> None:
    """Every token: id, label, role, school, created, expires, revoked (never the token)."""
    server = access_server(state_dir, nats_url, user, password)

    async def records(js: JetStreamContext) -> list[TokenRecord]:
        return await (await StaticTokens.of(js)).list()

    listed = server.run(records)
    if as_json:
        for record in listed:
            typer.echo(record.model_dump_json())
        return
    if not listed:
        typer.echo("no tokens")
        return
    now = datetime.now(UTC)
    typer.echo(
        f"{'id':<13}{'role':<12}{'school':<37}{'created':<12}{'expires':<12}{'state':<19}label"
    )
    for record in listed:
        if record.revoked_at is not None:
            state = f"revoked {record.revoked_at:%Y-%m-%d}"
        elif record.expired(now):
            state = "expired"
        else:
            state = "active"
        typer.echo(
            f"{record.id:<13}{record.role.value:<12}{record.school_id or '-'!s:<37}"
            f"{record.created_at:%Y-%m-%d}  {record.expires_at:%Y-%m-%d}  {state:<19}"
            f"{record.label}"
        )


@tokens_app.command("revoke")
def revoke_token(
    token: Annotated[str, typer.Argument(help="the token's id (`yts tokens list`) or label")],
    state_dir: TokensStateDir = STATE,
    nats_url: TokensNatsUrl = None,
    user: AdminUser = PROVISIONER,
    password: AdminPassword = None,
) -> None:
    """Revoke a token: every service refuses it at once (401)."""
    server = access_server(state_dir, nats_url, user, password)

    async def revoke(js: JetStreamContext) -> TokenRecord:
        return await (await StaticTokens.of(js)).revoke(token)

    try:
        record = server.run(revoke)
    except (TokenNotFound, TokenAmbiguous) as exc:
        raise typer.BadParameter(str(exc), param_hint="TOKEN") from exc
    typer.echo(
        f"revoked token {record.id} ({record.label!r}) at {record.revoked_at:%Y-%m-%d %H:%M} UTC"
    )


@reporting_app.command(
    "rebuild",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def reporting_rebuild(
    ctx: typer.Context,
    state_dir: Annotated[
        Path, typer.Option(help="`yts up`'s state folder, used when YTS_REPORTING_* are unset")
    ] = STATE,
) -> None:
    """Replay the streams into fresh read models and switch over (see `--help` of
    `python -m yts_reporting.rebuild`). Runs with the YTS_REPORTING_* settings of the
    environment; on a `yts up` system without them, as its reporting-rebuild NATS user."""
    import os
    import subprocess
    import sys

    env = rebuild_environment(dict(os.environ), state_dir)
    command = [sys.executable, "-m", "yts_reporting.rebuild", *ctx.args]
    raise typer.Exit(subprocess.call(command, env=env))


# Any of these set means the operator chose the system to rebuild: the local state is not used.
REBUILD_TARGET_VARIABLES = (
    "YTS_REPORTING_NATS_URL",
    "YTS_REPORTING_DATABASE_URL",
    "YTS_REPORTING_NATS_USER",
)


def rebuild_environment(env: dict[str, str], state_dir: Path) -> dict[str, str]:
    """The rebuild's settings: the environment's own, or, when it names no reporting system
    and `yts up` has run here, that local system as its reporting-rebuild user."""
    local = LocalAccess.load(state_dir / "nats")
    if local is None or any(name in env for name in REBUILD_TARGET_VARIABLES):
        return env
    database = (state_dir / "reporting.db").resolve()
    return {
        **env,
        "YTS_REPORTING_NATS_URL": local.url,
        "YTS_REPORTING_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "YTS_REPORTING_NATS_USER": REBUILDER,
        "YTS_REPORTING_NATS_PASSWORD": local.passwords[REBUILDER],
        "YTS_REPORTING_NATS_INBOX_PREFIX": inbox_prefix(REBUILDER),
    }


def main() -> None:
    app()
