"""Provider-specific text lives only in ``providers/`` and the sandbox: every message,
help text, log line and template elsewhere in the package is provider-neutral and
takes what differs (the tenant's name, the API key's roles, the app name's shape) from
the provider definition. Docstrings and comments may still cite a provider as an
example; they are not shown to anyone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import django_helpdesk_oauth

PACKAGE = Path(django_helpdesk_oauth.__file__).parent
#: Where provider facts belong, and history (old migrations keep their old help texts).
EXEMPT = ("providers", "sandbox", "migrations")
#: Provider names and Kustomer's "org" wording (its tenant is an org, its roles org.*).
SPECIFIC = re.compile(r"gorgias|kustomer|\borgs?\b|org\.|\borganization", re.IGNORECASE)


def _ours(suffix: str) -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob(f"*{suffix}")
        if path.relative_to(PACKAGE).parts[0] not in EXEMPT
    )


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of ``tree``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in ``path`` that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_scan_sees_python_and_templates():
    names = {path.name for path in _ours(".py")}
    assert {"admin.py", "models.py", "helpdesk_oauth_register_app.py"} <= names
    assert "gorgias.py" not in names and "state.py" not in names  # providers/, sandbox/
    assert _ours(".html")


@pytest.mark.parametrize("path", _ours(".py"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_provider_text_in_messages_help_or_logs(path):
    hits = [f"{line}: {text!r}" for line, text in _literals(path) if SPECIFIC.search(text)]
    assert hits == [], f"provider-specific text in {path.relative_to(PACKAGE)}"


@pytest.mark.parametrize("path", _ours(".html"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_provider_text_in_templates(path):
    text = path.read_text(encoding="utf-8")
    # autocomplete="organization" is an HTML autofill token, not wording.
    text = text.replace('autocomplete="organization"', "")
    assert SPECIFIC.findall(text) == []


def test_the_scan_would_catch_a_regression(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Kustomer in a docstring is fine."""\n'
        'HELP = "The Gorgias subdomain"  # and Kustomer in a comment too\n'
        'ROLES = "needs org.admin.apps"\n'
    )
    assert [line for line, text in _literals(sample) if SPECIFIC.search(text)] == [2, 3]
