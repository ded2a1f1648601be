"""The documentation matches the code: settings, commands, signals, model fields; and
the site builds strictly (broken links and anchors fail)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import load_command_class
from django.core.management.base import BaseCommand
from django.dispatch import Signal

from django_helpdesk_oauth import models, signals
from django_helpdesk_oauth.conf import DEFAULTS
from tests.providers import test_testdesk as worked_example

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
COMMANDS_DIR = ROOT / "django_helpdesk_oauth" / "management" / "commands"
# One row of the settings reference: | `KEY` | `default` | meaning |
SETTING_ROW = re.compile(r"^\| `([A-Z_]+)` \| `(.*?)` \|", re.MULTILINE)


def read(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def documented_settings() -> dict[str, str]:
    reference = read("settings.md").split("## Reference", 1)[1].split("\n## ", 1)[0]
    rows = SETTING_ROW.findall(reference)
    keys = [key for key, _ in rows]
    assert len(keys) == len(set(keys)), f"a setting is listed twice: {keys}"
    return dict(rows)


def test_settings_reference_lists_every_default_and_nothing_else():
    documented = documented_settings()
    assert sorted(documented) == sorted(DEFAULTS), (
        f"missing: {sorted(set(DEFAULTS) - set(documented))}, "
        f"unknown: {sorted(set(documented) - set(DEFAULTS))}"
    )


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_settings_reference_shows_the_real_default(key):
    assert ast.literal_eval(documented_settings()[key]) == DEFAULTS[key]


def command_names() -> list[str]:
    return sorted(path.stem for path in COMMANDS_DIR.glob("helpdesk_oauth_*.py"))


# Options every Django command has: not repeated per command in the docs.
BASE_OPTIONS = {
    option
    for action in BaseCommand().create_parser("manage.py", "base")._actions
    for option in action.option_strings
}


def test_every_command_has_a_section():
    names = command_names()
    assert names, "no management commands found"
    page = read("reference/commands.md")
    headings = set(re.findall(r"^## `([a-z_]+)`$", page, re.MULTILINE))
    assert headings == set(names)


@pytest.mark.parametrize("name", command_names())
def test_every_command_option_is_documented(name):
    page = read("reference/commands.md")
    section = page.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
    parser = load_command_class("django_helpdesk_oauth", name).create_parser("manage.py", name)
    for action in parser._actions:
        for option in set(action.option_strings) - BASE_OPTIONS:
            assert f"`{option}" in section, f"{name} {option} is not documented"
        if not action.option_strings:  # a positional argument, documented by its metavar
            assert f"`{action.metavar or action.dest}`" in section


def test_every_signal_is_documented_with_its_name():
    page = read("reference/signals.md")
    names = sorted(name for name, value in vars(signals).items() if isinstance(value, Signal))
    assert names
    for name in names:
        assert f"## `{name}`" in page


@pytest.mark.parametrize(
    "model",
    [
        models.ProviderApp,
        models.Installation,
        models.Token,
        models.AuthorizationRequest,
        models.PendingRevocation,
    ],
)
def test_every_model_field_is_documented(model):
    page = read("reference/models.md")
    section = page.split(f"## `{model.__name__}`", 1)[1].split("\n## ", 1)[0]
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        assert f"`{field.name}`" in section, f"{model.__name__}.{field.name} is not documented"


def test_every_page_is_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        assert page.relative_to(DOCS).as_posix() in config, f"{page} is not in mkdocs.yml's nav"


@pytest.mark.skipif(
    importlib.util.find_spec("material") is None,
    reason="mkdocs-material is not installed (pip install 'django-helpdesk-oauth[docs]')",
)
def test_docs_build_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "index.html").is_file()


# -- ADDING_PROVIDERS.md's worked example is real, tested code ----------------------------
EXAMPLE_BLOCK = re.compile(r"<!-- example: (\S+) -->\n```python\n(.*?)\n```", re.DOTALL)


def test_the_worked_example_quotes_its_files_verbatim():
    examples = EXAMPLE_BLOCK.findall(read("ADDING_PROVIDERS.md"))
    assert [path for path, _ in examples] == [
        "tests/providers/testdesk.py",
        "tests/sandbox/profile_testdesk.py",
        "tests/providers/test_testdesk.py",
    ]
    for path, code in examples:
        assert code == (ROOT / path).read_text(encoding="utf-8").rstrip(), (
            f"docs/ADDING_PROVIDERS.md quotes an old {path}: paste the file again"
        )


class TestTheWorkedExampleRunsTheContract(worked_example.TestTestdesk):
    """The test module the page quotes, run through the lifecycle contract from here."""
