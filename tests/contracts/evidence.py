"""The evidence about live ResMan (`resman_v2.json`, `resman_v1.json`) and checks against it.

Shared by the contract tests and by `python -m tests.contracts.coverage`, which prints the
figures: the share of live-declared keys the sandbox returns, and of real MITS paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

HERE = Path(__file__).parent
V2 = json.loads((HERE / "resman_v2.json").read_text())
V1 = json.loads((HERE / "resman_v1.json").read_text())
# Values outside a live list that the evidence leaves open (resman_v2.json, open_questions).
ENUM_EXCEPTIONS = {("LeasePerson", "residencyStatus"): set(V2["enums"]["LeaseStatus"])}


def declared(type_name: str) -> dict[str, tuple[str, bool]]:
    """A type's keys → (type, may be absent)."""
    return {
        key.rstrip("?"): (spec, key.endswith("?")) for key, spec in V2["types"][type_name].items()
    }


@dataclass
class Shape:
    """What a set of answers showed: problems, and which declared keys were seen per type."""

    problems: list[str] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=dict)

    def check(self, type_name: str, value: Any, path: str) -> None:
        """One item against its declared type: every key present (absent only where live omits
        it), none extra, each value of its declared type and, for enums, from the live list."""
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected an object ({type_name})")
            return
        keys = declared(type_name)
        self.seen.setdefault(type_name, set())
        for extra in sorted(set(value) - set(keys)):
            self.problems.append(f"{path}.{extra}: not a key of live {type_name}")
        for key, (spec, optional) in keys.items():
            if key not in value:
                if not optional:
                    self.problems.append(f"{path}.{key}: missing (live always sends it)")
                continue
            self.seen[type_name].add(key)
            self._value(type_name, key, spec, value[key], f"{path}.{key}")

    def _value(self, owner: str, key: str, spec: str, value: Any, path: str) -> None:
        nullable = spec.endswith("|null")
        base = spec.removesuffix("|null")
        if value is None:
            if not nullable:
                self.problems.append(f"{path}: null, but live never sends null here")
            return
        if base == "string":
            ok = isinstance(value, str)
        elif base == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif base == "boolean":
            ok = isinstance(value, bool)
        elif base.startswith("enum:"):
            allowed = set(V2["enums"][base[5:]]) | ENUM_EXCEPTIONS.get((owner, key), set())
            ok = value in allowed
        elif base.endswith("[]"):
            ok = isinstance(value, list)
            for index, item in enumerate(value if ok else []):
                self.check(base[:-2], item, f"{path}[{index}]")
        else:
            self.check(base, value, path)
            return
        if not ok:
            self.problems.append(f"{path}: {value!r} is not {base}")

    def coverage(self, type_names: Iterable[str]) -> tuple[int, int]:
        """(declared keys seen at least once, declared keys) over these types."""
        seen = total = 0
        for name in type_names:
            keys = declared(name)
            total += len(keys)
            seen += len(self.seen.get(name, set()) & set(keys))
        return seen, total


def types_under(type_name: str) -> list[str]:
    """A type and every type nested in it."""
    found = [type_name]
    for spec, _optional in declared(type_name).values():
        base = spec.removesuffix("|null").removesuffix("[]")
        if base in V2["types"] and base not in found:
            found += [t for t in types_under(base) if t not in found]
    return found


def element_paths(root: Any) -> set[str]:
    """Every element and attribute path of a document, by local names."""
    paths: set[str] = set()

    def walk(element: Any, prefix: str) -> None:
        path = (
            f"{prefix}/{etree.QName(element).localname}"
            if prefix
            else etree.QName(element).localname
        )
        paths.add(path)
        paths.update(f"{path}/@{name}" for name in element.attrib)
        for child in element:
            if isinstance(child.tag, str):
                walk(child, path)

    walk(root, "")
    return paths


def mits_paths_covered(document: bytes) -> tuple[set[str], set[str]]:
    """(real GetResidentTransactions2_0 paths the document has, those it lacks)."""
    real = set(V1["GetResidentTransactions2_0"]["captured_paths"]) | set(
        V1["GetResidentTransactions2_0"]["observed_paths"]
    )
    have = element_paths(etree.fromstring(document))
    return real & have, real - have
