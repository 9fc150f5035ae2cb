"""``make bench`` cannot rot: its smoke size runs every part of the harness (the pipelines
against their raw baselines, the running system's ceiling, latency and memory) in seconds, and
every row of the table comes out with figures. No timing is asserted: the numbers belong to
the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIPELINE_ROWS = ("reporting catch-up", "outbox relay", "yts reporting rebuild")
SERVICES = ("enrolment", "sessions", "notifications", "reporting")


def test_the_smoke_run_fills_every_row_of_the_table(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    command = [sys.executable, "-m", "bench", "--smoke", "--output", str(output)]
    postgres = os.environ.get("YTS_TEST_POSTGRES_URL")
    if postgres:
        command += ["--postgres", postgres]
    run = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    results = json.loads(output.read_text())
    databases = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    rows = {(f["path"], f["database"]): f for f in results["figures"]}
    for database in databases:
        for path in PIPELINE_ROWS:
            row = rows[(path, database)]
            assert row["values"], row
            assert all(v > 0 for v in row["values"]), row
            assert row["baseline_values"], row
            assert all(v > 0 for v in row["baseline_values"]), row
            assert row["ratio_spread"]["median"] > 0, row
        ceiling = rows[("sessions commands ceiling (POST completion)", database)]
        assert ceiling["values"][0] > 0
        for percentile in ("p50", "p99"):
            latency = rows[(f"command 2xx → in reporting at 10/s, {percentile}", database)]
            assert latency["values"][0] >= 0
        for service in SERVICES:
            assert rows[(f"peak RSS, {service}", database)]["values"][0] > 0
    assert results["cores"]
    assert results["command"].startswith("python -m bench --smoke")
    # The same table is printed, a row per figure.
    for path in (*PIPELINE_ROWS, "peak RSS, reporting"):
        assert f"| {path} |" in run.stdout
