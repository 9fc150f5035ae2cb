"""The onboarding kit `yts partners add` writes: the credentials as partner.env (0600), the
yts-contracts wheel built from this checkout, the contracts' documents, the example consumer
and a README; the consumer of the kit, run as its README says with its partner.env, reads the
events of a yts-provisioned stream; a fresh venv installs the wheel as the README says; and
`yts partners kit` rewrites a kit keeping only a password that still works."""

from __future__ import annotations

import asyncio
import re
import shlex
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from yts_deploy.partners.kit import INSTALL, RUN

from tests.deploy.partner_rig import ConsumerRun, PartnerRig, partner_rig, running_consumer
from tests.support.deploy_nats import publish_as_owner, wait_until_connectable
from tests.support.deploy_processes import EXAMPLE_CONSUMER, REPO, printed_environment

CONTRACTS = REPO / "contracts"
SESSION_TYPES = ["yts.sessions.module.completed.v1", "yts.sessions.session.completed.v1"]


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PartnerRig]:
    monkeypatch.setenv("UV_OFFLINE", "1")  # the wheel is built from the checkout alone
    with partner_rig(tmp_path, "yts-partner-kit") as rig:
        yield rig


def printed_kit(output: str) -> Path:
    """The folder named on the kit line `yts partners add` prints at the end."""
    match = re.search(r"^Onboarding kit, to hand over \(([^)]*)\): (.+)$", output, re.M)
    assert match, output
    return Path(match.group(2))


def env_file_values(kit: Path) -> dict[str, str]:
    """partner.env as `set -a; . ./partner.env` sees it."""
    shown = subprocess.run(
        ["bash", "-c", "set -a; . ./partner.env; env -0"],
        cwd=kit,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = (entry.split("=", 1) for entry in shown.split("\0") if "=" in entry)
    return {name: value for name, value in pairs if name.startswith("YTS_PARTNER_")}


def the_wheel(kit: Path) -> Path:
    wheels = list(kit.glob("yts_contracts-*-py3-none-any.whl"))
    assert len(wheels) == 1, sorted(p.name for p in kit.iterdir())
    return wheels[0]


def assert_reads_the_published_events_then_stops(consumer: ConsumerRun, published: int) -> None:
    """The kit's consumer prints every session event published, then stops cleanly on Ctrl-C."""
    lines = consumer.events(wanted=published)
    consumer.assert_stops_cleanly()
    assert len(lines) == published, consumer.stderr
    assert {line.split()[1] for line in lines} == set(SESSION_TYPES)


def test_adding_a_partner_writes_its_kit(rig: PartnerRig) -> None:
    output = rig.yts(
        "partners", "add", "unesco", "--types", "yts.sessions.>", "--types", "yts.milestones.>"
    )

    kit = printed_kit(output)
    assert kit == rig.state_dir / "partners" / "unesco" / "kit"
    assert output.rstrip().splitlines()[-3:] == [
        f"  install   {INSTALL}",
        f"  run       {RUN}",
        "  then      its README.md says what the partner sees",
    ]
    printed = printed_environment(output)
    assert env_file_values(kit) == printed  # the first consumer: YTS_SESSIONS
    assert stat.S_IMODE((kit / "partner.env").stat().st_mode) == 0o600
    assert stat.S_IMODE(kit.stat().st_mode) == 0o700
    assert (kit / "partner_consumer.py").read_bytes() == EXAMPLE_CONSUMER.read_bytes()
    assert (kit / "asyncapi.yaml").read_bytes() == (CONTRACTS / "asyncapi.yaml").read_bytes()
    public = (p for p in (CONTRACTS / "schemas").glob("*.json") if ".private." not in p.name)
    schemas = sorted(p.name for p in public)
    assert sorted(p.name for p in (kit / "schemas").iterdir()) == schemas
    assert (kit / "partner-guide.md").read_bytes() == (REPO / "docs/partners.md").read_bytes()
    the_wheel(kit)

    readme = (kit / "README.md").read_text(encoding="utf-8")
    assert INSTALL in readme
    assert RUN in readme
    assert (
        "--stream YTS_MILESTONES --durable partner-unesco-milestones" in readme
    )  # the second consumer
    assert "standardwebhooks" in readme
    assert printed["YTS_PARTNER_NATS_PASSWORD"] not in readme


def test_the_kits_wheel_is_yts_contracts_needing_only_pydantic(rig: PartnerRig) -> None:
    kit = printed_kit(rig.yts("partners", "add", "city", "--types", "yts.enrolment.>"))
    wheel = the_wheel(kit)

    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(
            next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        ).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert [line.split()[1].split(">")[0] for line in requires] == ["pydantic"], requires

    # A pure-Python wheel is importable from sys.path as it is.
    imported = subprocess.run(
        [sys.executable, "-c", "import yts_contracts; print(yts_contracts.__file__)"],
        env={"PYTHONPATH": str(wheel)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert imported == str(wheel / "yts_contracts" / "__init__.py")


def test_the_kits_consumer_reads_the_events_with_the_kits_partner_env(
    rig: PartnerRig, tmp_path: Path
) -> None:
    published = asyncio.run(publish_as_owner(rig.nats, SESSION_TYPES))
    kit = printed_kit(rig.yts("partners", "add", "unesco", "--types", "yts.sessions.>"))
    wait_until_connectable(env_file_values(kit))

    # The README's run line, with this test's Python and the kit's wheel on its path.
    run = RUN.replace(".venv/bin/python", 'exec "$0"')
    with running_consumer(
        tmp_path,
        {"PYTHONPATH": str(the_wheel(kit))},
        command=["bash", "-c", run, sys.executable],
        cwd=kit,
    ) as consumer:
        assert_reads_the_published_events_then_stops(consumer, published)


def local_package_indexes(pip: Path) -> dict[str, str]:
    """pip settings that install from this machine's file:// package indexes only (none:
    the test is skipped rather than reach a registry)."""
    shown = subprocess.run(
        [str(pip), "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    urls: list[str] = []
    for line in shown.splitlines():
        name, _, value = line.partition("=")
        if name.endswith((".index-url", ".extra-index-url")):
            urls += shlex.split(value)[0].split()
    local = [url for url in urls if url.startswith("file://")]
    if not local:
        pytest.skip("no file:// package index configured for pip on this machine")
    return {"PIP_INDEX_URL": local[0], "PIP_EXTRA_INDEX_URL": " ".join(local[1:])}


def test_a_fresh_venv_installs_the_kit_and_reads_events_as_its_readme_says(
    rig: PartnerRig, tmp_path: Path
) -> None:
    published = asyncio.run(publish_as_owner(rig.nats, SESSION_TYPES))
    kit = printed_kit(rig.yts("partners", "add", "unesco", "--types", "yts.sessions.>"))
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    make_venv, install = INSTALL.split(" && ")
    subprocess.run(["bash", "-c", make_venv], cwd=kit, env={"PATH": path}, check=True)
    indexes = local_package_indexes(kit / ".venv" / "bin" / "pip")

    subprocess.run(
        ["bash", "-c", install], cwd=kit, env={"PATH": path, **indexes}, check=True, timeout=300
    )
    wait_until_connectable(env_file_values(kit))
    with running_consumer(
        tmp_path, {"PATH": path}, command=["bash", "-c", RUN], cwd=kit
    ) as consumer:
        assert_reads_the_published_events_then_stops(consumer, published)


def test_a_rewritten_kit_keeps_only_a_password_that_still_works(rig: PartnerRig) -> None:
    given = rig.yts("partners", "add", "unesco", "--types", "yts.sessions.>")
    kit = printed_kit(given)
    password = printed_environment(given)["YTS_PARTNER_NATS_PASSWORD"]
    elsewhere = rig.folder / "kit-elsewhere"

    again = rig.yts("partners", "kit", "unesco")
    fresh = rig.yts("partners", "kit", "unesco", "--kit", str(elsewhere))

    assert printed_kit(again) == kit
    assert "(it holds the password)" in again
    assert env_file_values(kit)["YTS_PARTNER_NATS_PASSWORD"] == password
    assert printed_kit(fresh) == elsewhere
    assert "(without the password)" in fresh
    assert "YTS_PARTNER_NATS_PASSWORD" not in env_file_values(elsewhere)
    assert "has no password" in (elsewhere / "README.md").read_text(encoding="utf-8")
    assert password not in again + fresh

    (elsewhere / "partner.env").write_bytes((kit / "partner.env").read_bytes())
    rotated = rig.yts("partners", "rotate", "unesco")  # writes the default kit anew
    assert env_file_values(kit) == printed_environment(rotated)
    rig.yts("partners", "kit", "unesco", "--kit", str(elsewhere))
    assert "YTS_PARTNER_NATS_PASSWORD" not in env_file_values(elsewhere)  # the old one


def test_kit_of_an_unknown_partner_is_refused(rig: PartnerRig) -> None:
    output = rig.yts("partners", "kit", "nobody", expect=2)
    assert "no partner named 'nobody'" in output
