"""The ``yts`` command."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from yts_chassis.auth import Role, TokenFile

from yts_deploy.runner import LocalSystem, provision_at

app = typer.Typer(
    help="Young Trainers' School platform: run, provision, administer.", no_args_is_help=True
)
tokens_app = typer.Typer(help="Bearer tokens (only hashes are stored).", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
reporting_app = typer.Typer(help="Reporting read models.", no_args_is_help=True)
app.add_typer(reporting_app, name="reporting")

STATE = Path(".state")


@app.command()
def up(
    state_dir: Annotated[Path, typer.Option(help="where NATS, databases and logs live")] = STATE,
    nats_port: Annotated[int, typer.Option(help="NATS port; another is picked if taken")] = 4222,
    demo: Annotated[bool, typer.Option(help="fill an empty system with a demo programme")] = False,
) -> None:
    """Run everything on this machine until Ctrl-C."""
    system = LocalSystem(state_dir=state_dir.resolve(), nats_port=nats_port, say=typer.echo)
    stop = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        typer.echo("starting NATS and the four services ...")
        system.start()
        if demo:
            typer.echo("the demo programme arrives with its issue; starting without it")
        assert system.nats is not None
        typer.echo(f"\nNATS          {system.nats.url}  (JetStream store: {system.nats.store_dir})")
        for name, service in system.services.items():
            typer.echo(f"{name:<14}{service.url}   docs: {service.url}/docs")
        typer.echo(f"\nadmin token   {system.token}")
        typer.echo(f"logs          {state_dir / 'logs'}")
        typer.echo("\nCtrl-C stops everything.")
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
    nats_url: Annotated[str, typer.Option(envvar="YTS_NATS_URL")] = "nats://127.0.0.1:4222",
    user: Annotated[str | None, typer.Option(envvar="YTS_NATS_USER")] = None,
    password: Annotated[str | None, typer.Option(envvar="YTS_NATS_PASSWORD")] = None,
    replicas: Annotated[int, typer.Option(min=1, max=5)] = 1,
    fix: Annotated[bool, typer.Option(help="update streams/consumers that drifted")] = False,
) -> None:
    """Create or check the streams and durable consumers (idempotent; reports drift)."""
    report = asyncio.run(
        provision_at(nats_url, replicas=replicas, fix=fix, user=user, password=password)
    )
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        typer.echo("drift found: nothing was changed; re-run with --fix to apply", err=True)
        raise typer.Exit(1)


@tokens_app.command("create")
def create_token(
    role: Annotated[Role, typer.Option()],
    label: Annotated[str, typer.Option(help="who holds it, e.g. a coordinator's name")],
    school: Annotated[uuid.UUID | None, typer.Option(help="school id, for coordinators")] = None,
    tokens_file: Annotated[Path, typer.Option(envvar="YTS_TOKENS_FILE")] = STATE / "tokens.json",
) -> None:
    """Make a token; it is printed once and only its hash is stored."""
    try:
        token = TokenFile(tokens_file).create(role, label, school)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(token)


@reporting_app.command(
    "rebuild",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def reporting_rebuild(ctx: typer.Context) -> None:
    """Replay the streams into fresh read models and switch over (see `--help` of
    `python -m yts_reporting.rebuild`). Runs in the reporting service's own environment."""
    import subprocess
    import sys

    raise typer.Exit(subprocess.call([sys.executable, "-m", "yts_reporting.rebuild", *ctx.args]))


def main() -> None:
    app()
