"""Each workspace member installs alone and imports: a member that imports what its own
pyproject does not declare fails here (the style guide's rule; the Dockerfile relies on it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# distribution -> (top-level package, the module that runs it). Every module of the package is
# imported, which covers a service's composition root without calling it.
MEMBERS = {
    "yts-contracts": ("yts_contracts", "yts_contracts.catalog"),
    "yts-chassis": ("yts_chassis", "yts_chassis.service"),
    "yts-enrolment": ("yts_enrolment", "yts_enrolment.main"),
    "yts-sessions": ("yts_sessions", "yts_sessions.main"),
    "yts-notifications": ("yts_notifications", "yts_notifications.main"),
    "yts-reporting": ("yts_reporting", "yts_reporting.main"),
    "yts-credentials": ("yts_credentials", "yts_credentials.main"),
    "yts-deploy": ("yts_deploy", "yts_deploy.cli"),
}

# Run by the member's own interpreter: import every module of the package, report where it
# lives and the installed distributions. Migration scripts are not a package and are skipped.
PROBE = """
import importlib, json, pkgutil, sys, sysconfig
package = importlib.import_module(sys.argv[1])
modules = [package.__name__]
for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(found.name)
    modules.append(found.name)
absent = []
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except ImportError:
        absent.append(name)
print(json.dumps({
    "modules": modules,
    "absent": absent,
    "purelib": sysconfig.get_path("purelib"),
}))
"""


def find_uv() -> str | None:
    if os.environ.get("UV"):
        return os.environ["UV"]
    bundled = ROOT / ".tools" / "bin" / "uv"
    if bundled.exists():
        return str(bundled)
    return shutil.which("uv")


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment minus what would leak this venv into the member's."""
    leaky = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"}
    env = {key: value for key, value in os.environ.items() if key not in leaky}
    env.update(extra)
    return env


def sync_alone(distribution: str, venv: Path) -> None:
    uv = find_uv()
    if uv is None:
        pytest.skip("uv not found (set UV, or put it at .tools/bin/uv or on PATH)")
    done = subprocess.run(
        [uv, "sync", "--frozen", "--package", distribution, "--no-dev"],
        cwd=ROOT,
        env=clean_env(UV_PROJECT_ENVIRONMENT=str(venv), UV_PYTHON_DOWNLOADS="never"),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, f"uv sync --package {distribution} failed:\n{done.stderr}"


def probe(venv: Path, module: str, *must_be_absent: str) -> dict[str, object]:
    done = subprocess.run(
        # -I: no PYTHONPATH, no user site, no current directory on sys.path.
        [str(venv / "bin" / "python"), "-I", "-c", PROBE, module, *must_be_absent],
        cwd=venv.parent,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"importing {module} alone failed:\n{done.stderr}"
    return dict(json.loads(done.stdout))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(root: str, site_packages: str) -> set[str]:
    """``root`` and the distributions it requires, transitively, among those installed."""
    installed = {
        canonical(d.metadata["Name"]): d for d in metadata.distributions(path=[site_packages])
    }
    seen: set[str] = set()
    todo = [canonical(root)]
    while todo:
        name = todo.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        for requirement in installed[name].requires or []:
            if "extra ==" in requirement:
                continue  # optional extras are not pulled in by a plain requirement
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
            if match:
                todo.append(canonical(match.group(1)))
    return seen


@pytest.mark.timeout(300)
@pytest.mark.parametrize("distribution", list(MEMBERS))
def test_member_installs_alone_and_every_module_imports(distribution: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    sync_alone(distribution, venv)

    package, entry = MEMBERS[distribution]

    found = probe(venv, package)

    modules = found["modules"]
    assert isinstance(modules, list)
    assert entry in modules


@pytest.mark.timeout(300)
def test_contracts_install_with_pydantic_only(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    sync_alone("yts-contracts", venv)

    found = probe(venv, "yts_contracts", "nats", "sqlalchemy", "fastapi", "yts_chassis")

    assert found["absent"] == ["nats", "sqlalchemy", "fastapi", "yts_chassis"]
    site_packages = str(found["purelib"])
    installed = {
        canonical(d.metadata["Name"]) for d in metadata.distributions(path=[site_packages])
    }
    allowed = {"yts-contracts"} | requirement_closure("pydantic", site_packages)
    assert installed - allowed == set(), "contracts pull in more than pydantic"
    assert "pydantic" in installed
