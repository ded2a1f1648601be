"""Release metadata that a build would not catch: single-sourced version, license,
classifiers matching the supported versions, data files inside the package.

The build itself (sdist + wheel, ``twine check``, a clean-venv install and smoke
test) is ``scripts/check-wheel``, run by ``.ci/run``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import django_helpdesk_oauth

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "django_helpdesk_oauth"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def test_version_is_single_sourced_from_the_package():
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "django_helpdesk_oauth/__init__.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", django_helpdesk_oauth.__version__)


def test_changelog_has_the_version():
    changelog = (ROOT / "docs" / "changelog.md").read_text(encoding="utf-8")
    assert f"## {django_helpdesk_oauth.__version__}" in changelog


def test_license_file_is_declared_and_present():
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")


def test_classifiers_match_the_supported_versions():
    classifiers = set(PROJECT["classifiers"])
    for python in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {python}" in classifiers
    for django in ("5.2", "6.0", "6.1"):
        assert f"Framework :: Django :: {django}" in classifiers
    assert "Typing :: Typed" in classifiers
    assert PROJECT["requires-python"] == ">=3.11"
    assert "Django>=5.2,<6.2" in PROJECT["dependencies"]


def test_package_data_lives_inside_the_package():
    # The wheel ships the package directory: templates, migrations and py.typed must be in it.
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "migrations" / "0001_initial.py").is_file()
    assert list((PACKAGE / "templates").rglob("*.html"))
    assert list((PACKAGE / "sandbox" / "templates").rglob("*.html"))
    assert PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        "django_helpdesk_oauth"
    ]


@pytest.mark.parametrize(
    "module",
    [
        "client",
        "transport",
        "providers.kustomer",
        "services",
        "services.apps_api",
        "views",
        "urls",
        "tasks",
    ],
)
def test_each_module_imports_first(module):
    """No import cycle hides behind INSTALLED_APPS' import order."""
    import subprocess
    import sys

    code = (
        "import django; from django.conf import settings; settings.configure("
        "INSTALLED_APPS=['django.contrib.auth', 'django.contrib.contenttypes', "
        "'django_helpdesk_oauth']); "
        f"import django_helpdesk_oauth.{module}"
    )
    if module not in ("client", "transport", "providers.kustomer"):
        code = code.replace(
            "; import django_helpdesk_oauth", "; django.setup(); import django_helpdesk_oauth"
        )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-500:]
