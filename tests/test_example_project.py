"""The example project works from a fresh checkout: ``check``, ``migrate``, ``walkthrough``.

Run as a newcomer would, in subprocesses with the project's own settings, against
a temporary database and ``var`` directory.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.example_env import MANAGE, ROOT, example_env

pytestmark = pytest.mark.example_project

#: The example project's demo client secrets (config/settings.py).
DEMO_SECRETS = (
    "demo-gorgias-secret-sandbox-only-g0rg",
    "demo-kustomer-secret-sandbox-only-kust",
)
STEPS = (
    "1. Gorgias install",
    "2. Kustomer install",
    "3. API calls",
    "4. Refresh through Celery",
    "5. Operations: rotate the Kustomer client secret",
    "6. Uninstall",
    "7. Summary",
)
# Sandbox tokens, codes and Fernet keys are 32+ URL-safe characters; JWTs start with eyJ.
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{32,}|eyJ[A-Za-z0-9_-]+\.")


@pytest.fixture
def run(tmp_path):
    env = example_env(tmp_path)

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(MANAGE), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
        )

    manage.var_dir = tmp_path / "var"  # type: ignore[attr-defined]
    return manage


def test_check_passes(run):
    result = run("check", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_walkthrough_runs_every_step_and_prints_no_secret(run):
    migrate = run("migrate", "--no-input", "-v", "0")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    result = run("walkthrough")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for step in STEPS:
        assert step in result.stdout
    assert result.stdout.count("succeeded") == len(STEPS)
    assert "Walkthrough complete." in result.stdout
    assert "kept its refresh token" in result.stdout
    assert "refresh token rotated" in result.stdout
    assert "with HTTP Basic client auth" in result.stdout
    # Kustomer's per-org endpoints by default: its consent page asks for no org.
    assert "typed organization" not in result.stdout
    for secret in DEMO_SECRETS:
        assert secret not in output
    assert not TOKEN_LIKE.search(output), TOKEN_LIKE.search(output)
    # The dev encryption key was generated into the configured var dir, not the checkout.
    assert (run.var_dir / "encryption.key").is_file()

    # Again on the same database: seeding is idempotent and the flow reinstalls.
    again = run("walkthrough")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "gorgias-sandbox: unchanged" in again.stdout


def test_walkthrough_with_kustomers_global_endpoints(tmp_path):
    """SANDBOX_KUSTOMER_ENDPOINTS=seed keeps the seed's global set runnable end to end
    (the consent page asks for the org; the org is confirmed on its API host)."""
    env = example_env(tmp_path, SANDBOX_KUSTOMER_ENDPOINTS="seed")

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(MANAGE), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
        )

    assert manage("migrate", "--no-input", "-v", "0").returncode == 0
    result = manage("walkthrough")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "typed organization 'acme'" in result.stdout
    assert "Walkthrough complete." in result.stdout


def test_walkthrough_refuses_an_unmigrated_database(run):
    result = run("walkthrough")
    assert result.returncode != 0
    assert "migrate" in result.stderr
