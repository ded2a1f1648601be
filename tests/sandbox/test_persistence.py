"""HELPDESK_OAUTH_SANDBOX["STATE_FILE"]: tokens and apps survive a restart of the sandbox."""

from __future__ import annotations

import json

from django_helpdesk_oauth.sandbox.state import IssuedToken, SandboxState


def configure(settings, path):
    settings.HELPDESK_OAUTH_SANDBOX = {**settings.HELPDESK_OAUTH_SANDBOX, "STATE_FILE": str(path)}


def test_state_round_trips_through_the_file(settings, tmp_path):
    path = tmp_path / "sandbox.json"
    configure(settings, path)
    first = SandboxState()
    first.set_client_secret("kustomer", "kustomer-test-client", "rotated-secret-1234")
    token = first.add_token(
        IssuedToken(
            token="refresh-abc",
            kind="refresh",
            provider="kustomer",
            client_id="kustomer-test-client",
            tenant="acme",
            scope="offline_access",
            issued_at=1.0,
            expires_at=None,
            family="f",
        )
    )
    first.save()
    assert "rotated-secret-1234" in path.read_text()

    restarted = SandboxState()  # a new process, in effect
    assert restarted.get_client("kustomer", "kustomer-test-client").client_secret == (
        "rotated-secret-1234"
    )
    assert restarted.refresh_tokens["refresh-abc"] == token
    # The same RSA key: JWTs issued before the restart still verify at the JWKS.
    assert restarted.public_jwks == first.public_jwks


def test_the_state_files_directory_is_created(settings, tmp_path):
    # docs/testing.md's STATE_FILE is BASE_DIR / "var" / ..., absent in a fresh project:
    # the first token call must not fail (it was a 500, the install a 502).
    path = tmp_path / "var" / "nested" / "sandbox.json"
    configure(settings, path)
    state = SandboxState()
    state.set_client_secret("kustomer", "kustomer-test-client", "rotated-secret-5678")
    state.save()
    assert "rotated-secret-5678" in path.read_text()


def test_without_a_state_file_nothing_is_written(settings, tmp_path):
    state = SandboxState()
    state.save()
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_file_starts_afresh(settings, tmp_path):
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps({"clients": "nonsense"}))
    configure(settings, path)
    state = SandboxState()
    assert state.get_client("gorgias", "gorgias-test-client") is not None  # from settings


def test_an_access_token_issued_before_a_restart_works_for_the_first_api_call(
    settings, tmp_path, client
):
    from django_helpdesk_oauth.sandbox.state import state
    from tests.sandbox.helpers import bearer, gorgias_tokens, url

    configure(settings, tmp_path / "sandbox.json")
    state.reset()
    access = gorgias_tokens(client)["access_token"]  # issued and saved to the file
    state.reset()  # a restarted server: nothing in memory, the file on disk

    # The API call is the restarted server's first request: no client lookup before it.
    response = client.get(url("gorgias-account", tenant="acme"), **bearer(access))

    assert response.status_code == 200, response.content
    assert response.json()["domain"] == "acme"
