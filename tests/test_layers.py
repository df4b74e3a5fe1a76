"""The import rules of the layout, checked on the source: the shared layers import no domain,
connectors import no domain, and the sandbox imports nothing of the product."""

from __future__ import annotations

import ast
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


def _imported_packages(path: Path) -> set[str]:
    """The `propbridge.<package>` names a module imports (top-level modules included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "propbridge" and len(parts) > 1:
                found.add(parts[1])
    return found


def _violations(package: str, forbidden: set[str], skip: str | None = None) -> list[str]:
    return [
        f"{path.relative_to(SOURCE)} imports propbridge.{name}"
        for path in sorted((SOURCE / package).rglob("*.py"))
        if skip is None or skip not in path.parts
        for name in sorted(_imported_packages(path) & forbidden)
    ]


def test_the_domains_are_found() -> None:
    assert {"billing", "integrations", "webhooks", "auth"} <= DOMAINS


@pytest.mark.parametrize(
    ("package", "forbidden", "skip"),
    [
        # Migrations compose every table (through `propbridge.schema`): they are the app's.
        ("db", DOMAINS | {"api", "jobs", "connectors", "sandbox", "schema"}, "migrations"),
        ("jobs", DOMAINS | {"api", "connectors", "sandbox", "schema"}, None),
        ("connectors", DOMAINS | {"api", "jobs", "sandbox", "schema"}, None),
    ],
)
def test_a_layer_imports_no_domain(package: str, forbidden: set[str], skip: str | None) -> None:
    assert _violations(package, forbidden, skip) == []


def test_the_sandbox_imports_nothing_of_the_product() -> None:
    everything = {p.stem if p.is_file() else p.name for p in SOURCE.iterdir()} - {"sandbox"}
    assert _violations("sandbox", everything) == []


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The check itself can fail: a module importing a domain is reported."""
    module = tmp_path / "bad.py"
    module.write_text("from propbridge.billing import models\nimport propbridge.webhooks.events\n")
    assert _imported_packages(module) == {"billing", "webhooks"}
