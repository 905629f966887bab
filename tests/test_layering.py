"""The dependency arrows of DESIGN.md, as a test.

First-party rules: protocol and rating import nothing of ours; storage imports only
rating.money; ocs imports protocol, rating and storage; billing imports rating and
storage; simulator imports protocol only. Third-party rules: trio only in
protocol/trio_peer.py, ocs/ and simulator/; construct only in protocol/_wire.py (and
the ocs decode command); sqlalchemy only in storage/, ocs/persist*.py and billing/;
rating/ imports nothing outside the standard library.
"""

from __future__ import annotations

import ast
import fnmatch
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

ALLOWED: dict[str, set[str]] = {
    "protocol": set(),
    "rating": set(),
    "storage": {"rating"},
    "ocs": {"protocol", "rating", "storage"},
    "billing": {"rating", "storage"},
    "simulator": {"protocol"},
}
OURS = set(ALLOWED)

#: third-party packages and the files (fnmatch patterns, `*` crosses folders) allowed to import them
THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "trio": ("protocol/trio_peer.py", "ocs/*", "simulator/*"),
    "construct": ("protocol/_wire.py", "ocs/cli*.py"),
    "sqlalchemy": ("storage/*", "ocs/persist*.py", "ocs/cli*.py", "billing/*"),
}


def imports(path: pathlib.Path) -> set[str]:
    """Every absolute module name imported by one file (relative imports stay inside it)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def files(package: str) -> list[pathlib.Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_layout_allows(package: str) -> None:
    for path in files(package):
        roots = {name.split(".")[0] for name in imports(path)}
        illegal = (roots & OURS) - ALLOWED[package] - {package}
        assert not illegal, f"{path.relative_to(ROOT)} imports {sorted(illegal)}"


def test_storage_imports_only_rating_money() -> None:
    for path in files("storage"):
        for name in imports(path):
            if name.split(".")[0] == "rating":
                assert name in {"rating", "rating.money"} or name.startswith("rating.money."), (
                    f"{path.relative_to(ROOT)} imports {name}"
                )


@pytest.mark.parametrize("dependency", sorted(THIRD_PARTY))
def test_third_party_imports_stay_in_their_modules(dependency: str) -> None:
    allowed = THIRD_PARTY[dependency]
    for package in OURS:
        for path in files(package):
            rel = path.relative_to(ROOT)
            if any(fnmatch.fnmatch(rel.as_posix(), pattern) for pattern in allowed):
                continue
            roots = {name.split(".")[0] for name in imports(path)}
            assert dependency not in roots, f"{rel} imports {dependency}"


def test_rating_uses_only_the_standard_library() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in files("rating"):
        roots = {name.split(".")[0] for name in imports(path)}
        foreign = roots - stdlib - {"rating"}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


def test_the_checker_catches_a_violation(tmp_path: pathlib.Path) -> None:
    # A layering test that cannot fail proves nothing: feed it a forbidden import.
    bad = tmp_path / "bad.py"
    bad.write_text("import ocs.handler\nfrom storage import schema\n")
    assert {name.split(".")[0] for name in imports(bad)} == {"ocs", "storage"}
