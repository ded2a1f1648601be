"""The example project works from a fresh checkout: ``check``, ``migrate``, ``walkthrough``.

Run as a newcomer would, in subprocesses with the project's own settings, against
a temporary database and ``var`` directory.
"""

from __future__ import annotations

import json
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
    "demo-zendesk-secret-sandbox-only-zend",
    "demo-hubspot-secret-sandbox-only-hubs",
    "demo-intercom-secret-sandbox-only-intc",
    "demo-front-secret-sandbox-only-frnt",
    "demo-helpscout-secret-sandbox-only-hlps",
    "demo-zoho-desk-secret-sandbox-only-zoho",
)
STEPS = (
    "1. Gorgias install",
    "2. Kustomer install",
    "3. API calls",
    "4. Refresh through Celery",
    "5. Operations: rotate the Kustomer client secret",
    "6. Uninstall",
    "7. Every provider",
    "8. Summary",
)
#: Step 7's line per provider: name, where the tenant came from, the API call, the refresh
#: (or "never expires"), the uninstall, as each provider's definition says.
PROVIDER_LINES = {
    "Gorgias": r"installed @ acme \(\?account=\) · GET account → 200 · refreshed, "
    r"expires in 2[34] h \d\d min, refresh token kept · uninstalled, revoked at the provider",
    "Kustomer": r"installed @ acme \(\?org=\) · GET users/current → 200 · refreshed, "
    r"expires in 2[34] h \d\d min, refresh token rotated · uninstalled, "
    r"nothing to revoke \(tokens erased\)",
    "Zendesk": r"installed @ acme \(\?subdomain=\) · GET users/me.json → 200 · refreshed, "
    r"expires in 0 h [23]\d min, refresh token rotated · uninstalled, revoked at the provider",
    "HubSpot": r"installed @ 2450981 \(learnt after the exchange\) · GET "
    r"account-info/v3/details → 200 · refreshed, expires in 0 h [23]\d min, refresh token "
    r"kept · uninstalled, revoked at the provider",
    "Intercom": r"installed @ acme \(learnt after the exchange, region eu\) · GET me → 200 · "
    r"never expires \(no refresh token, never swept\) · uninstalled, revoked at the provider",
    "Front": r"installed @ cmp_acme \(learnt after the exchange\) · GET me → 200 · refreshed, "
    r"expires in [01] h \d\d min, refresh token (kept|rotated) · "
    r"uninstalled, nothing to revoke \(tokens erased\)",
    "Help Scout": r"installed @ acme \(learnt after the exchange\) · GET users/me → 200 · "
    r"refreshed, expires in 4[78] h \d\d min, refresh token rotated · uninstalled, nothing "
    r"to revoke \(tokens erased\)",
    "Zoho Desk": r"installed @ 20012345 \(learnt after the exchange, region us from the "
    r"callback\) · GET tickets → 200 · refreshed, expires in [01] h \d\d min, refresh token "
    r"kept · uninstalled, revoked at the provider",
}
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
    # Step 7: exactly one line per provider, each through the whole lifecycle.
    step7 = result.stdout.split("7. Every provider", 1)[1].split("8. Summary", 1)[0]
    lines = [line.strip() for line in step7.splitlines() if " installed @ " in line]
    assert len(lines) == len(PROVIDER_LINES), step7
    for (name, pattern), line in zip(PROVIDER_LINES.items(), lines, strict=True):
        assert re.fullmatch(re.escape(name) + r":\s+" + pattern, line), line
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

    # runserver's sandbox (settings + STATE_FILE) and the apps agree after the walkthrough,
    # though it rotated the Kustomer secret in its own sandbox; and again after a rotation
    # kept in STATE_FILE, once seed_sandbox_apps ran.
    assert last_json(run("shell", "-c", SECRETS_MATCH)) == {
        "after_walkthrough": True,
        "after_rotation_and_seed": True,
    }


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


def manage_in(directory, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``manage.py <args>`` with its database and ``var/`` in ``directory``, plus ``extra`` env."""
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=ROOT,
        env=example_env(directory, **extra),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def last_json(result: subprocess.CompletedProcess[str]) -> object:
    """The JSON value a ``manage.py shell -c`` script printed last."""
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


SECRETS_MATCH = """
import io, json
from django.core.management import call_command
from django.test import Client
from django_helpdesk_oauth.models import ProviderApp
from django_helpdesk_oauth.sandbox.state import state
def match():
    state.reset()  # as a restarted runserver: settings, then STATE_FILE
    served = state.get_client("kustomer", "demo-kustomer-client").client_secret
    return ProviderApp.objects.get(slug="kustomer-sandbox").client_secret == served
first = match()
Client(HTTP_HOST="127.0.0.1").post(
    "/sandbox/kustomer/apps-api/v1/apps/available/demoapp_5f0acme/secret", "{}",
    content_type="application/json", HTTP_AUTHORIZATION="Bearer demo-kustomer-admin-key")
call_command("seed_sandbox_apps", stdout=io.StringIO())
print(json.dumps({"after_walkthrough": first, "after_rotation_and_seed": match()}))
"""

APPS_API_CALLS = """
import json
from django.test import Client
browser = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION="Bearer demo-kustomer-admin-key")
base = "/sandbox/kustomer/apps-api/v1/apps/available"
app = {"app": "other", "version": "1", "title": "Other", "visibility": "private"}
answers = {
    "register": browser.post(base, json.dumps(app), content_type="application/json"),
    "rotate": browser.post(base + "/demoapp_5f0acme/secret", "{}", content_type="application/json"),
}
print(json.dumps({name: r.status_code for name, r in answers.items()}))
"""


def test_the_demo_api_key_rotates_nothing_without_debug(tmp_path):
    refused = manage_in(tmp_path / "off", "shell", "-c", APPS_API_CALLS, DEBUG="False")
    allowed = manage_in(tmp_path / "on", "shell", "-c", APPS_API_CALLS, DEBUG="True")

    assert last_json(refused) == {"register": 404, "rotate": 404}
    # The same calls with DEBUG on (the demo): the key works, so the 404s above are DEBUG's.
    assert last_json(allowed) == {"register": 200, "rotate": 200}


ENDPOINTS_PER_REQUEST = """
import json
from django.test import Client
from django_helpdesk_oauth.providers import get_provider
def location(host, port):
    answer = Client().get("/helpdesk/gorgias-sandbox/install/?account=acme",
                          HTTP_HOST=host, SERVER_PORT=port)
    return [answer.status_code, answer.headers.get("Location", "").split("?")[0]]
print(json.dumps({
    "127.0.0.1": location("127.0.0.1:8123", "8123"),
    "localhost": location("localhost:8124", "8124"),
    # The Host header's port is not where our server-side calls go: the server's is.
    "forged_port": location("127.0.0.1:9999", "8125"),
    "no_request": get_provider("gorgias").endpoint("token_url", "acme"),
}))
"""


def test_without_sandbox_base_url_the_sandbox_is_where_the_request_came_in(tmp_path):
    assert manage_in(tmp_path, "migrate", "--no-input", "-v", "0").returncode == 0
    assert manage_in(tmp_path, "seed_sandbox_apps").returncode == 0

    seen = last_json(manage_in(tmp_path, "shell", "-c", ENDPOINTS_PER_REQUEST))

    authorize = "/sandbox/gorgias/acme/oauth/authorize"
    assert seen == {
        "127.0.0.1": [302, f"http://127.0.0.1:8123{authorize}"],
        "localhost": [302, f"http://localhost:8124{authorize}"],
        "forged_port": [302, f"http://127.0.0.1:8125{authorize}"],
        # Outside a request (the Celery worker): runserver's default address.
        "no_request": "http://127.0.0.1:8000/sandbox/gorgias/acme/oauth/token",
    }


def test_an_explicit_sandbox_base_url_wins(tmp_path):
    code = (
        "import json; from django_helpdesk_oauth.providers import get_provider; "
        "print(json.dumps(get_provider('kustomer').endpoint('token_url', 'acme')))"
    )
    result = manage_in(
        tmp_path, "shell", "-c", code, SANDBOX_BASE_URL="http://127.0.0.1:8200/sandbox"
    )
    assert last_json(result) == "http://127.0.0.1:8200/sandbox/kustomer/acme/api/oauth/token"
