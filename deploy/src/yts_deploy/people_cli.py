"""``yts people``: staff's and coordinators' accounts of the workspace (sign-in by a link
mailed to them). The workspace's own command line (``python -m yts_workspace.cli``) does the
work in its buckets, run with the settings ``yts up`` started the workspace with (its NATS user
and password, its address for the links, its mail server), as ``yts reporting rebuild`` runs
reporting's; here the options are checked and a coordinator's school is asked of enrolment."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer

from yts_deploy.runner import kept_admin_token, kept_workspace_settings
from yts_deploy.schools import check_school_exists

people_app = typer.Typer(
    help="People's accounts in the workspace: programme staff and schools' coordinators.",
    no_args_is_help=True,
)

STATE = Path(".state")
StateDir = Annotated[Path, typer.Option(help="the state folder of the `yts up` to administer")]
DEMO_STAFF = ("staff@yts.example", "Dana Staff")
DEMO_COORDINATOR = ("coordinator@yts.example", "Aigerim Coordinator")


class PersonRole(StrEnum):
    staff = "staff"
    coordinator = "coordinator"


class Locale(StrEnum):
    kk = "kk"
    ru = "ru"
    en = "en"


def workspace_command(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m yts_workspace.cli people <args>`` with the workspace's settings."""
    settings = kept_workspace_settings(state_dir)
    if settings is None:
        raise typer.BadParameter(
            f"no workspace was started with the state folder {state_dir}: run `yts up` first, "
            "or give the --state-dir of your `yts up`",
            param_hint="--state-dir",
        )
    return subprocess.run(
        [sys.executable, "-m", "yts_workspace.cli", "people", *args],
        env={**os.environ, **settings},
        capture_output=True,
        text=True,
        check=False,
    )


def _said(done: subprocess.CompletedProcess[str]) -> None:
    if done.stdout:
        typer.echo(done.stdout.rstrip("\n"))
    if done.returncode != 0:
        typer.echo(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed", err=True
        )
        raise typer.Exit(done.returncode)


@people_app.command("add")
def add_person(
    email: Annotated[str, typer.Option(help="their address: sign-in links are mailed there")],
    name: Annotated[str, typer.Option(help="as pages and mails greet them")],
    role: Annotated[PersonRole, typer.Option(help="staff (every school) or coordinator")],
    school_id: Annotated[
        uuid.UUID | None, typer.Option(help="a coordinator's school (it must exist)")
    ] = None,
    locale: Annotated[Locale, typer.Option(help="the language of their mail")] = Locale.kk,
    link: Annotated[bool, typer.Option(help="mail them a sign-in link now")] = True,
    state_dir: StateDir = STATE,
    enrolment_url: Annotated[
        str | None,
        typer.Option(help="where to check the school (default: the state folder's enrolment)"),
    ] = None,
) -> None:
    """Make an account (and mail its first sign-in link)."""
    if (role is PersonRole.coordinator) != (school_id is not None):
        raise typer.BadParameter(
            "a coordinator belongs to a school (--school-id), and only a coordinator",
            param_hint="--school-id",
        )
    if school_id is not None:
        token = kept_admin_token(state_dir)
        if token is None:
            raise typer.BadParameter(
                f"no system was started with the state folder {state_dir}",
                param_hint="--state-dir",
            )
        check_school_exists(enrolment_url or _enrolment_of(state_dir), token, school_id)
    args = ["add", "--email", email, "--name", name, "--role", role.value, "--locale", locale]
    if school_id is not None:
        args += ["--school-id", str(school_id)]
    _said(workspace_command(state_dir, *args, "--link" if link else "--no-link"))


@people_app.command("list")
def list_people(
    state_dir: StateDir = STATE,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per person")] = False,
) -> None:
    """Every account: id, role, school, language, state, address, name."""
    _said(workspace_command(state_dir, "list", *(["--json"] if as_json else [])))


@people_app.command("revoke")
def revoke_person(
    person: Annotated[str, typer.Argument(help="the account's id or e-mail address")],
    state_dir: StateDir = STATE,
) -> None:
    """Withdraw a person's access: signed out everywhere, refused by every service at once."""
    _said(workspace_command(state_dir, "revoke", person))


@people_app.command("link")
def mail_link(
    email: Annotated[str, typer.Option(help="the account's address")],
    state_dir: StateDir = STATE,
) -> None:
    """Mail a person a new one-time sign-in link."""
    _said(workspace_command(state_dir, "link", "--email", email))


def _enrolment_of(state_dir: Path) -> str:
    settings = kept_workspace_settings(state_dir) or {}
    return settings.get("YTS_WORKSPACE_ENROLMENT_URL", "http://127.0.0.1:8001").rstrip("/")


def demo_people(
    state_dir: Path, enrolment_url: str, token: str, say: Callable[[str], None]
) -> None:
    """``yts up --demo``: a staff account and a coordinator of the first demo school, each
    mailed a sign-in link (a second run mails them new links)."""
    schools = httpx.get(
        f"{enrolment_url}/v1/schools",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()["items"]
    if not schools:
        say("no school to give a coordinator: workspace accounts not made")
        return
    school = schools[0]
    for (email, name), role, extra in (
        (DEMO_STAFF, "staff", []),
        (DEMO_COORDINATOR, "coordinator", ["--school-id", school["id"]]),
    ):
        args = ["--email", email, "--name", name, "--role", role, "--locale", "en", *extra]
        done = workspace_command(state_dir, "add", *args)
        if done.returncode != 0:  # an account from an earlier run: a new link
            done = workspace_command(state_dir, "link", "--email", email)
        if done.returncode != 0:
            say(f"workspace account {email} not ready: {done.stderr.strip()}")
    say(
        f"\nworkspace accounts: {DEMO_STAFF[0]} (programme staff) and {DEMO_COORDINATOR[0]} "
        f"(coordinator of {school['name']}); their sign-in links are in the mail catcher"
    )
