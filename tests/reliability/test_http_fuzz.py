"""HTTP fuzzing of every service with schemathesis, against ``yts up``'s real processes: whatever
a client sends, no 5xx, every error problem+json, and every status code documented in the
service's OpenAPI document. ``make test`` runs a short pass (a fixed seed, few examples per
operation); ``make reliability`` a long one (YTS_FUZZ_EXAMPLES)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from yts_deploy.runner import SERVICES, LocalSystem

from tests.support.enrolment_api import COHORT, SCHOOL, trainer
from tests.support.local_system import running_local_system

EXAMPLES = int(os.environ.get("YTS_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("YTS_FUZZ_SEED", "2023"))
# schemathesis runs only the checks named here: the hooks' own check (fuzz_checks) included.
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "errors_are_problem_json",
    )
)


@pytest.fixture(scope="module")
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    with running_local_system(tmp_path_factory.mktemp("yts-fuzz")) as system:
        # Something to find: a school, a cohort and a trainer, so ids in paths may exist.
        enrolment = httpx.Client(
            base_url=system.services["enrolment"].url,
            headers={"Authorization": f"Bearer {system.token}"},
            timeout=10,
        )
        school = enrolment.post("/v1/schools", json=SCHOOL).json()
        cohort = enrolment.post("/v1/cohorts", json=COHORT).json()
        enrolment.post("/v1/trainers", json=trainer(school["id"], cohort["id"]))
        yield system


@pytest.mark.parametrize("service", SERVICES)
def test_no_request_makes_a_service_fail_or_answer_undocumented(
    local_system: LocalSystem, service: str
) -> None:
    url = local_system.services[service].url
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {local_system.token}",
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--no-color",
        ],
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.reliability.fuzz_checks",
            "PYTHONPATH": str(Path(__file__).parents[2]),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    log = (local_system.state_dir / "logs" / f"{service}.log").read_text()[-4000:]
    summary = done.stdout[-6000:]
    assert done.returncode == 0, f"{summary}\n{done.stderr[-2000:]}\n--- {service} log ---\n{log}"
    print(f"{service}: " + " ".join(done.stdout.strip().splitlines()[-3:]))
