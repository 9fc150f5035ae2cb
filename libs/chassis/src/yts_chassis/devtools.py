"""Developer commands for migrations: ``python -m yts_chassis.devtools revision <package> -m
<message>`` autogenerates a revision against a scratch SQLite database at head."""

from __future__ import annotations

import argparse
import importlib
import tempfile
from pathlib import Path

from alembic import command

from yts_chassis.migrations import alembic_config


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision")
    rev.add_argument("package", help="e.g. yts_enrolment")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    module = importlib.import_module(f"{args.package}.main")
    migrations = Path(module.MIGRATIONS)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/scratch.db"
        config = alembic_config(url, migrations)
        command.upgrade(config, "head")
        command.revision(config, message=args.message, autogenerate=True)


if __name__ == "__main__":
    main()
