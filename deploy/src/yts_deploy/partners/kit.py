"""The onboarding kit of a partner: one folder with everything needed to read the events with
the guide alone, since ``yts-contracts`` is on no package index.

It holds the credentials as ``partner.env`` (mode 0600, the ``YTS_PARTNER_*`` variables the
example consumer reads), the ``yts-contracts`` wheel built from this checkout with uv, the
AsyncAPI document and JSON Schemas, the example consumer, the partner guide and a README.
Programme staff keep only a bcrypt hash of the password, so the password is in the kit only
when it is written by ``yts partners add`` or ``rotate`` (or found, still valid, in the kit
being rewritten).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bcrypt
from jinja2 import Environment, PackageLoader, StrictUndefined

from yts_deploy.partners.accounts import Partner
from yts_deploy.partners.registry import write_atomically

ENV_FILE = "partner.env"
CONSUMER = "partner_consumer.py"
GUIDE = "partner-guide.md"
README = "README.md"
PASSWORD_VARIABLE = "YTS_PARTNER_NATS_PASSWORD"
INSTALL = "python3 -m venv .venv && .venv/bin/pip install nats-py ./yts_contracts-*.whl"
RUN = "set -a; . ./partner.env; .venv/bin/python partner_consumer.py"
# This module sits in deploy/src/yts_deploy/partners/ of the checkout (workspace members are
# installed editable); the Dockerfile's image has the checkout's folders under /app.
_CHECKOUT = Path(__file__).resolve().parents[4]


class KitError(RuntimeError):
    """The kit cannot be written; the message says why and what to do."""


@dataclass(frozen=True)
class Kit:
    folder: Path
    wheel: Path
    with_password: bool

    @property
    def env_file(self) -> Path:
        return self.folder / ENV_FILE


def default_folder(state_dir: Path, partner: str) -> Path:
    return state_dir / "partners" / partner / "kit"


def checkout_root() -> Path:
    """The folder holding contracts/ (the package's source, schemas and example)."""
    for candidate in (_CHECKOUT, Path.cwd()):
        if (candidate / "contracts" / "pyproject.toml").is_file():
            return candidate
    raise KitError(
        f"no contracts/ folder in {_CHECKOUT} or {Path.cwd()}: run yts from the repository"
    )


def find_uv(root: Path) -> str:
    """The uv the Makefile exports as UV, the project's .tools/bin/uv, or uv on PATH."""
    candidates = [os.environ.get("UV"), str(root / ".tools" / "bin" / "uv"), shutil.which("uv")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    raise KitError("no uv to build the yts-contracts wheel: run `make sync`, or set UV=<path>")


def build_contracts_wheel(root: Path, into: Path) -> Path:
    """Build the yts-contracts wheel of ``root`` into the folder ``into``; its path."""
    with tempfile.TemporaryDirectory(prefix="yts-contracts-wheel-") as scratch:
        command = [find_uv(root), "build", "--wheel", "--package", "yts-contracts"]
        built = subprocess.run(
            [*command, "--out-dir", scratch],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = sorted(Path(scratch).glob("yts_contracts-*.whl"))
        if built.returncode != 0 or len(wheels) != 1:
            detail = (built.stderr or built.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise KitError(f"`uv build` of yts-contracts failed: {detail[0]}")
        for old in into.glob("yts_contracts-*.whl"):
            old.unlink()
        return Path(shutil.copy2(wheels[0], into / wheels[0].name))


def env_text(partner: Partner, url: str, password: str | None) -> str:
    """partner.env: shell-quoted YTS_PARTNER_* variables for `set -a; . ./partner.env`."""
    first = partner.consumers[0]
    values = {
        "YTS_PARTNER_NATS_URL": url,
        "YTS_PARTNER_NATS_USER": partner.user,
        PASSWORD_VARIABLE: password,
        "YTS_PARTNER_INBOX_PREFIX": partner.inbox_prefix,
        "YTS_PARTNER_STREAM": first.stream,
        "YTS_PARTNER_DURABLE": first.durable,
    }
    lines = [f"# Young Trainers' School: NATS access of partner {partner.name}. Keep it secret."]
    for name, value in values.items():
        if value is None:
            lines += [
                "# The password is not here: programme staff keep only a hash of it. Put the one",
                "# you were given after the = below and remove the #, or ask for a new one",
                "# (`yts partners rotate`, which writes a new kit).",
                f"# {name}=",
            ]
        else:
            lines.append(f"{name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


def password_in(env_file: Path, partner: Partner) -> str | None:
    """The password of an existing partner.env, if it still matches the partner's hash."""
    if not env_file.is_file():
        return None
    for line in env_file.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        if name != PASSWORD_VARIABLE:
            continue
        try:
            password = " ".join(shlex.split(value))
        except ValueError:  # edited by hand into something a shell would not read either
            return None
        if password and bcrypt.checkpw(password.encode(), partner.password_hash.encode()):
            return password
    return None


def readme_text(partner: Partner, url: str, wheel: Path, with_password: bool) -> str:
    templates = Environment(
        loader=PackageLoader("yts_deploy", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
    )
    return templates.get_template("partner-kit-README.md.j2").render(
        partner=partner,
        url=url,
        wheel=wheel.name,
        with_password=with_password,
        install=INSTALL,
        run=RUN,
        written=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_kit(folder: Path, partner: Partner, url: str, password: str | None) -> Kit:
    """Write (or rewrite) ``partner``'s kit in ``folder``; ``password`` None keeps a still
    valid one of the kit already there, else leaves it out."""
    root = checkout_root()
    contracts = root / "contracts"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # it holds a password
    if password is None:
        password = password_in(folder / ENV_FILE, partner)
    wheel = build_contracts_wheel(root, folder)
    write_atomically(folder / ENV_FILE, env_text(partner, url, password), 0o600)
    shutil.copy2(contracts / "examples" / CONSUMER, folder / CONSUMER)
    shutil.copy2(contracts / "asyncapi.yaml", folder / "asyncapi.yaml")
    shutil.rmtree(folder / "schemas", ignore_errors=True)
    # The events a partner can read: the private stream's schemas stay with the platform.
    shutil.copytree(
        contracts / "schemas", folder / "schemas", ignore=shutil.ignore_patterns("yts.private.*")
    )
    guide = root / "docs" / "partners.md"
    if guide.is_file():
        shutil.copy2(guide, folder / GUIDE)
    write_atomically(folder / README, readme_text(partner, url, wheel, password is not None))
    return Kit(folder=folder, wheel=wheel, with_password=password is not None)
