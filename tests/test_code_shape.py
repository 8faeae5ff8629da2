"""The code stays readable in one sitting: short modules and functions, private names kept private.

A module over 500 lines or a function over 60 (not counting its docstring) is split; a name or module
starting with ``_`` is used only where it is defined (its own module, or its own package for a module).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("registry", "geodata", "maps", "bench", "scripts")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _body_lines(node) -> int:
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        if len(body) == 1:
            return 0
        first = body[1]
    return node.end_lineno - first.lineno + 1


def test_no_module_is_longer_than_a_sitting():
    long = {str(p.relative_to(ROOT)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these modules (over {MAX_MODULE_LINES} lines)"


def test_no_function_is_longer_than_a_screen():
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _body_lines(node) > MAX_FUNCTION_LINES:
                long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = _body_lines(node)
    assert long == {}, f"split these functions (over {MAX_FUNCTION_LINES} lines, docstring aside)"


def _private_imports(path: Path):
    """(line, what) for each private name or private module this module takes from another module."""
    here = _dotted(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            source = node.module
            owner = source.rpartition(".")[0]
            private_module = any(part.startswith("_") and not part.startswith("__") for part in source.split("."))
            if private_module and not (owner == package or owner.startswith(package + ".")):
                yield node.lineno, source
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and source != here:
                    yield node.lineno, f"{source}.{alias.name}"


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(ROOT)))
def test_private_names_stay_where_they_are_defined(path):
    assert list(_private_imports(path)) == []
