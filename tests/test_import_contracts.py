"""The package's import graph: one-way layers, no cycle, providers as data, the sandbox apart.

The contracts live in pyproject.toml (``[tool.importlinter]``); ``scripts/test`` runs
``lint-imports`` too. Function-level imports count: grimp sees them like any other.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "django_helpdesk_oauth"
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _ignored_imports() -> set[tuple[str, str]]:
    """The documented exceptions of the layers contract, as (importer, imported)."""
    layers = next(c for c in CONFIG["contracts"] if c["type"] == "layers")
    pairs = (line.split(" -> ") for line in layers.get("ignore_imports", []))
    return {(a.strip(), b.strip()) for a, b in pairs}


def test_the_import_contracts_hold(capsys, monkeypatch):
    pytest.importorskip("importlinter", reason="import-linter is not installed (the test extra)")
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out[-4000:]


def test_every_contract_is_checked():
    # A contract dropped from the config would silently stop guarding its rule.
    assert {c["id"] for c in CONFIG["contracts"]} >= {
        "layers",
        "acyclic",
        "providers-are-data",
        "sandbox-apart",
        "client-without-sandbox",
    }
    assert _ignored_imports() == {("django_helpdesk_oauth.models", "django_helpdesk_oauth.session")}


def test_no_module_is_part_of_an_import_cycle():
    """Module by module (stricter than sibling packages): no strongly connected component."""
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the test extra)")
    graph = grimp.build_graph("django_helpdesk_oauth")
    for importer, imported in _ignored_imports():
        graph.remove_import(importer=importer, imported=imported)
    # Tarjan's algorithm, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    assert cycles == []


def _imported_names(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, at any depth of the file."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    return _names_in(path.read_text(), package)


def _names_in(source: str, package: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base)
                module = f"{prefix}.{node.module}" if node.module else prefix
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "providers").glob("*.py")), ids=lambda p: p.name)
def test_a_provider_module_never_touches_the_orm_or_the_network(path):
    # import-linter cannot forbid a subpackage of an external package (django.db).
    names = _imported_names(path)
    assert not {
        n
        for n in names
        if n.split(".")[:2] == ["django", "db"]
        or n.split(".")[0] in {"requests", "urllib3", "socket", "http", "celery"}
        or n.startswith("django_helpdesk_oauth.models")
    }


def test_the_import_walker_sees_a_function_level_orm_import():
    # The check above is worth something only if it sees imports inside functions.
    source = "def f():\n    from django.db import models\n    from ..models import Token\n"
    names = _names_in(source, "django_helpdesk_oauth.providers")
    assert "django.db" in names
    assert "django_helpdesk_oauth.models" in names


def test_the_revocation_task_services_queue_by_name_is_registered():
    # services.uninstall looks the task up by name instead of importing tasks (which
    # imports it); a renamed task would leave every retry unqueued.
    from celery import current_app

    from django_helpdesk_oauth import tasks
    from django_helpdesk_oauth.services.uninstall import REVOKE_TASK

    assert current_app.tasks[REVOKE_TASK] is tasks.revoke_pending_token._get_current_object()
