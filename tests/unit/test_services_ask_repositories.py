"""The services of these features ask repositories (no SQL of their own) and are handed their
settings (no process-global get_settings()): a guard over the source, so neither creeps back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SQL_BUILDERS = {"select", "text", "insert", "update", "delete"}
QUERYING = {"execute", "scalar", "scalars", "get", "get_one", "stream"}


def _modules() -> list[Path]:
    """Every module of dispatch/: each feature's queries live in persistence/repositories/."""
    return sorted((ROOT / "dispatch").rglob("*.py"))


def offences(source: str) -> list[str]:
    """What in this module builds SQL, runs a query on a session, or reads global settings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [
                f"imports {alias.name} from {node.module}"
                for alias in node.names
                if alias.name in SQL_BUILDERS
            ]
        if isinstance(node, ast.ImportFrom | ast.Import):
            found += [f"imports {alias.name}" for alias in node.names if alias.name == "get_settings"]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "session"
            and node.func.attr in QUERYING
        ):
            found.append(f"calls session.{node.func.attr} (line {node.lineno})")
    return found


def test_the_guard_sees_what_it_forbids() -> None:
    source = (
        "from sqlalchemy import select, func\n"
        "from persistence.config import get_settings\n"
        "async def f(session):\n"
        "    await session.execute(select(1))\n"
        "    session.add(object())\n"
    )
    assert offences(source) == [
        "imports select from sqlalchemy",
        "imports get_settings",
        "calls session.execute (line 4)",
    ]


@pytest.mark.parametrize("module", _modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_services_query_through_repositories(module: Path) -> None:
    assert offences(module.read_text()) == []
