"""rating/ stays pure: no floats, no clock, no I/O (the stdlib-only rule is in test_layering)."""

from __future__ import annotations

import ast
import pathlib

import pytest

RATING = pathlib.Path(__file__).resolve().parents[2] / "rating"
SOURCES = sorted(RATING.glob("*.py"))

#: calls that read the clock, the environment or files
FORBIDDEN_CALLS = {
    "now",
    "utcnow",
    "today",
    "time",
    "monotonic",
    "perf_counter",
    "open",
    "getenv",
    "read_text",
    "read_bytes",
    "float",
}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_float_clock_or_io(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
        if isinstance(node, ast.Constant):
            assert not isinstance(node.value, float), f"{path.name}:{node.lineno} float literal"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_module_says_what_lives_here(path: pathlib.Path) -> None:
    if path.name == "__init__.py":
        return
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring, f"{path.name} has no module docstring"
    assert "from __future__ import annotations" in path.read_text()
