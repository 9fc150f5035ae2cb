"""The README's "Try the first flow", run as written (bash, curl, jq) against ``yts up``'s local
system: on a fresh system, and on one filled by the demo (whose cohort of this school year
already exists), each time ending with the trainer counted by reporting."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from yts_deploy.runner import LocalSystem

from tests.support.local_system import running_local_system

README = Path(__file__).parents[2] / "README.md"

pytestmark = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="the walk-through uses curl and jq"
)


def walkthrough() -> str:
    section = README.read_text(encoding="utf-8").split("## Try the first flow", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README's first flow has no shell block"
    return match.group(1)


@pytest.fixture
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    with running_local_system(tmp_path_factory.mktemp("yts-up")) as system:
        yield system


def run_as_written(system: LocalSystem) -> list[str]:
    """The block with only the addresses a test system has instead of the default ones."""
    script = walkthrough()
    for name, default in (("enrolment", "localhost:8001"), ("reporting", "localhost:8004")):
        script = script.replace(default, system.services[name].url)
    script = script.replace(".state/", f"{system.state_dir}/")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()


def test_the_readme_walkthrough_works_on_a_fresh_system(local_system: LocalSystem) -> None:
    printed = run_as_written(local_system)
    assert '"status":"active"' in printed[0], printed
    assert printed[-1] == "1", printed


def test_the_readme_walkthrough_works_after_the_demo(local_system: LocalSystem) -> None:
    from yts_deploy.demo import run_demo

    urls = {name: service.url for name, service in local_system.services.items()}
    run_demo(urls, local_system.token, scale="small", say=lambda line: None)
    before = httpx.get(
        f"{urls['reporting']}/v1/indicators",
        headers={"Authorization": f"Bearer {local_system.token}"},
        timeout=10,
    ).json()["trainers_enrolled"]["value"]
    printed = run_as_written(local_system)
    assert '"status":"active"' in printed[0], printed
    assert printed[-1] == str(before + 1), printed
