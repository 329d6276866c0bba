"""``workflows/`` has no side effects: it imports only the stdlib pieces it needs, temporalio, the
contracts and itself (STYLE, convention 2). The replay tests depend on this."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
WORKFLOWS = ROOT / "workflows"
# The action table sits in models/ (the API's schemas read it too) and is as pure as workflows/.
ACTION_TABLE = ROOT / "models" / "actions.py"
ALLOWED_PREFIXES = (
    "temporalio",
    "workflows",
    "models.contracts",
    "models.search_attributes",
    "models.actions",
)
# copy: a transition restores a deep copy of the state when it cannot be applied.
ALLOWED_STDLIB = {
    "__future__",
    "asyncio",
    "collections.abc",
    "copy",
    "dataclasses",
    "datetime",
    "enum",
    "typing",
}
FORBIDDEN_NAMES = {"open", "print", "input", "exec", "eval"}


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names += [
                f"{module}.{alias.name}" if module == "models" else module for alias in node.names
            ]
    return names


def test_workflow_modules_import_only_pure_code() -> None:
    files = sorted(WORKFLOWS.glob("*.py"))
    assert len(files) >= 4
    for path in [*files, ACTION_TABLE]:
        for name in imported_modules(path):
            ok = name in ALLOWED_STDLIB or name.startswith(ALLOWED_PREFIXES)
            assert ok, f"{path.name} imports {name}"


def test_workflow_modules_call_no_io_builtins() -> None:
    for path in [*sorted(WORKFLOWS.glob("*.py")), ACTION_TABLE]:
        tree = ast.parse(path.read_text())
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not calls & FORBIDDEN_NAMES, f"{path.name} calls {calls & FORBIDDEN_NAMES}"


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom sqlmodel import Session\nfrom models import db\n")
    assert imported_modules(bad) == ["os", "sqlmodel", "models.db"]
