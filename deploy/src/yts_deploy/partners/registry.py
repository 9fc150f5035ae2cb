"""The registry (``partners.json``) beside ``users.conf`` in the server's configuration folder:
``users.conf`` is rewritten from it (atomically) and the server re-reads it on SIGHUP. Its
user may only look up, fetch from and ack its consumers, and subscribe to its own reply-inbox
prefix."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from yts_deploy.natsconfig import (
    PLATFORM_USERS,
    SOURCE_DIR,
    STATIC_FILES,
    USERS_CONFIG,
    config_variable,
)
from yts_deploy.partners.accounts import Partner, PartnerError

REGISTRY_FILE = "partners.json"


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


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``path`` whole or not at all (the server may re-read it at any moment), created
    0600 and given ``mode`` only once complete: a password or hash is never readable by others,
    even briefly."""
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
        write_atomically(self.registry_path, json.dumps(raw, indent=2) + "\n", 0o600)
        write_atomically(self.users_path, render_users_config(ordered, developer=keep))


def prepare_config_dir(target: Path, *, developer: bool = False) -> Path:
    """Copy deploy/nats's hand-written files into ``target`` (refreshed every time) and write
    users.conf from the partners registry kept there (none at first). ``developer`` (`yts up`
    only) lets connections without credentials in, as a user with every right."""
    target.mkdir(parents=True, exist_ok=True)
    for name in STATIC_FILES:
        shutil.copyfile(SOURCE_DIR / name, target / name)
    registry = PartnerRegistry(target)
    registry.save(registry.load(), developer=developer)
    return target
