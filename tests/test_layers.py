"""The import rules of the layout, checked on the source.

In one line: endpoints → services → repositories → models and db; `jobs/`, `db/` and
`connectors/` import no domain; `sandbox/` imports nothing of the product; only the composition
root (`app.py`, `handlers.py`, `catalog.py`, `runtime.py`, `cli.py`, ...) puts the pieces
together, and nothing imports it back (a type named under `TYPE_CHECKING` excepted).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).parent.parent / "src" / "propbridge"
# Packages that are not domains: the layers every domain stands on, and the outside world.
LAYERS = {"api", "db", "jobs", "connectors", "sandbox"}
DOMAINS = {
    path.name
    for path in SOURCE.iterdir()
    if path.is_dir() and (path / "__init__.py").exists() and path.name not in LAYERS
}
# The composition root: modules at the top that wire the domains together.
ROOT = {path.stem for path in SOURCE.glob("*.py")} - {"__init__", "clock", "config", "outbound"}
# A domain's entry points: its routes (and middleware) and its job handlers.
ENTRY_POINTS = {"endpoints", "middleware", "tasks"}


@dataclass(frozen=True)
class Import:
    """`propbridge.<package>[.<module>]` as one source file imports it."""

    package: str
    module: str | None
    type_only: bool


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path) -> list[Import]:
    """The propbridge modules a file imports (relative imports are not used here)."""
    tree = ast.parse(path.read_text())
    type_only = _type_checking_lines(tree)
    found: list[Import] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            package_dir = SOURCE / node.module.removeprefix("propbridge.")
            if node.module.count(".") == 1 and package_dir.is_dir():
                # `from propbridge.writes import service`: the module is the imported name
                names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "propbridge" and len(parts) > 1:
                module = parts[2] if len(parts) > 2 else None
                found.append(Import(parts[1], module, node.lineno in type_only))
    return found


def _files(package: str | None = None) -> list[Path]:
    root = SOURCE if package is None else SOURCE / package
    return sorted(p for p in root.rglob("*.py") if "migrations" not in p.parts)


def _name(path: Path) -> str:
    return str(path.relative_to(SOURCE))


def test_the_domains_are_found() -> None:
    assert {"billing", "integrations", "webhooks", "auth", "writes", "sync"} <= DOMAINS


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("db", DOMAINS | ROOT | {"api", "jobs", "connectors", "sandbox"}),
        ("jobs", DOMAINS | ROOT | {"api", "connectors", "sandbox"}),
        ("connectors", DOMAINS | ROOT | {"api", "jobs", "sandbox"}),
    ],
)
def test_a_layer_imports_no_domain(package: str, forbidden: set[str]) -> None:
    # Migrations compose every table (through `propbridge.schema`): they are the app's.
    violations = [
        f"{_name(path)} imports propbridge.{found.package}"
        for path in _files(package)
        for found in imports_of(path)
        if found.package in forbidden and not found.type_only
    ]
    assert violations == []


def test_the_sandbox_imports_nothing_of_the_product() -> None:
    violations = [
        f"{_name(path)} imports propbridge.{found.package}"
        for path in _files("sandbox")
        for found in imports_of(path)
        if found.package != "sandbox"
    ]
    assert violations == []


def test_nothing_imports_the_composition_root() -> None:
    """Domains and layers get what the root composes handed down (the runtime carries it)."""
    violations = [
        f"{_name(path)} imports propbridge.{found.package}"
        for package in DOMAINS | LAYERS
        for path in _files(package)
        for found in imports_of(path)
        if found.package in ROOT and not found.type_only
    ]
    assert violations == []


def test_each_layer_of_a_domain_imports_only_those_below_it() -> None:
    """Endpoints → services → repositories → models: nobody but the composition root imports
    an entry point (routes, middleware, job handlers); a repository imports only repositories
    and models; models import only models."""
    violations = []
    for package in DOMAINS:
        for path in _files(package):
            for found in imports_of(path):
                if found.package not in DOMAINS or found.module is None:
                    continue
                entry = found.module in ENTRY_POINTS
                too_high = (
                    path.stem == "repository" and found.module not in ("repository", "models")
                ) or (path.stem == "models" and found.module != "models")
                if entry or too_high:
                    violations.append(f"{_name(path)} imports {found.package}.{found.module}")
    assert violations == []


def test_the_layer_rule_catches_a_violation(tmp_path: Path) -> None:
    """A repository that imports a service is reported."""
    module = tmp_path / "repository.py"
    module.write_text("from propbridge.writes import service\n")
    assert imports_of(module) == [Import("writes", "service", False)]


def test_only_the_api_layer_and_endpoints_speak_http() -> None:
    """Repositories and models know nothing of requests or of the API layer."""
    violations = [
        f"{_name(path)} imports propbridge.api"
        for package in DOMAINS
        for path in _files(package)
        if path.stem in ("repository", "models")
        for found in imports_of(path)
        if found.package == "api"
    ]
    assert violations == []


def test_no_service_or_repository_commits() -> None:
    """The unit of work belongs to the request or the job: they open and commit it."""
    violations = [
        _name(path)
        for package in DOMAINS
        for path in _files(package)
        if path.stem in ("service", "repository", "rules")
        if ".commit(" in path.read_text()
    ]
    assert violations == []


def test_every_domain_keeps_its_queries_in_its_repository() -> None:
    """Every domain has a repository; outside repositories, domain code builds no INSERT,
    UPDATE or DELETE of its own."""
    missing = sorted(p for p in DOMAINS if not (SOURCE / p / "repository.py").exists())
    assert missing == []
    writers = [
        _name(path)
        for package in DOMAINS
        for path in _files(package)
        if path.stem not in ("repository",)
        for found in ("insert(", "update(", "delete(")
        if f" {found}" in path.read_text() or f"({found}" in path.read_text()
    ]
    assert writers == []


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The check itself can fail: imports are found, and those for types only are told apart."""
    module = tmp_path / "bad.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "from propbridge.billing import models\n"
        "import propbridge.webhooks.events\n"
        "if TYPE_CHECKING:\n"
        "    from propbridge.runtime import Runtime\n"
    )
    assert imports_of(module) == [
        Import("billing", "models", False),
        Import("webhooks", "events", False),
        Import("runtime", None, True),
    ]
