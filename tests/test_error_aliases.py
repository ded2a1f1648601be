"""A provider's own error members mapped to RFC 6749 codes (``Provider.error_code_aliases``).

HubSpot's v1 token endpoint answers a dead refresh token with ``{"status":
"BAD_REFRESH_TOKEN", "message": …}`` and no ``error``; its 2026-03 endpoint sends both
shapes. Either must mark the installation ``needs_reauth`` (and an aliased
``invalid_client`` must not). Over loopback HTTP with a provider defined here only
(the recorder and ``define`` of tests/test_provider_definition.py).
"""

from __future__ import annotations

import pytest

from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.providers.base import Provider
from django_helpdesk_oauth.tasks import refresh_installation_token
from tests.test_provider_definition import define, install, make_due, server  # noqa: F401

ALIASES = {
    "status": {
        "BAD_REFRESH_TOKEN": "invalid_grant",
        "BAD_AUTH_CODE": "invalid_grant",
        "BAD_CLIENT_ID": "invalid_client",
    }
}
LEGACY = {"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"}


@pytest.fixture
def installed(client, server, define):  # noqa: F811
    """``installed(**attrs)`` → the active installation of a provider declaring ``attrs``."""

    def make(**attrs: object) -> Installation:
        app = define(client_auth="client_secret_post", **attrs)
        _, done = install(client, app)
        assert done.status_code == 302
        make_due()
        return Installation.objects.get()

    return make


def refresh_with(server, installation, status: int, body: object) -> str:  # noqa: F811
    server.answers["/oauth/token"] = [(status, body)]
    return refresh_installation_token.apply((installation.pk,)).get()


def snapshot() -> tuple:
    token = Token.objects.get()
    return token.access_token, token.refresh_token, token.expires_at


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(LEGACY, id="legacy-only"),
        pytest.param({**LEGACY, "correlationId": "aeb5f871"}, id="legacy-with-correlation-id"),
        pytest.param(
            {"error": "invalid_grant", "error_description": "revoked", **LEGACY}, id="both"
        ),
    ],
)
def test_a_legacy_bad_refresh_token_marks_needs_reauth_and_keeps_the_rows(
    server,  # noqa: F811
    installed,
    body,
):
    installation = installed(error_code_aliases=ALIASES)
    before = snapshot()
    assert refresh_with(server, installation, 400, body) == "failed"
    installation.refresh_from_db()
    assert installation.status == "needs_reauth"
    assert "invalid_grant" in installation.last_error
    assert snapshot() == before  # nothing deleted


def test_an_aliased_invalid_client_is_the_apps_problem_not_the_tenants(
    server,  # noqa: F811
    installed,
    caplog,
):
    installation = installed(error_code_aliases=ALIASES)
    body = {"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}
    assert refresh_with(server, installation, 400, body) == "failed"
    installation.refresh_from_db()
    assert installation.status == "active"  # never marks the tenant
    assert "credentials rejected during refresh (invalid_client)" in caplog.text


@pytest.mark.parametrize(
    ("status", "body"),
    [
        # Not declared: a legacy body means nothing to a provider without aliases.
        pytest.param(400, LEGACY, id="provider-without-aliases"),
        # An RFC 6749 error always wins over the provider's own member.
        pytest.param(400, {"error": "invalid_request", **LEGACY}, id="rfc6749-error-wins"),
    ],
)
def test_only_a_declared_alias_means_invalid_grant(server, installed, status, body):  # noqa: F811
    aliases = {} if "error" not in body else ALIASES
    installation = installed(error_code_aliases=aliases)
    before = snapshot()
    assert refresh_with(server, installation, status, body) == "failed"
    installation.refresh_from_db()
    assert installation.status == "active"
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"status": "SOMETHING_ELSE", "message": "?"}, id="unlisted-value"),
        pytest.param({"status": ["BAD_REFRESH_TOKEN"]}, id="not-a-string"),
        pytest.param({"message": "BAD_REFRESH_TOKEN"}, id="another-member"),
        pytest.param(["BAD_REFRESH_TOKEN"], id="not-an-object"),
    ],
)
def test_an_unlisted_or_malformed_legacy_member_is_no_code(server, installed, body):  # noqa: F811
    installation = installed(error_code_aliases=ALIASES)
    assert refresh_with(server, installation, 400, body) == "failed"
    installation.refresh_from_db()
    assert installation.status == "active"
    assert "invalid_grant" not in installation.last_error


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_legacy_body_on_a_transient_status_leaves_the_token_untouched(
    server,  # noqa: F811
    installed,
    status,
):
    installation = installed(error_code_aliases=ALIASES)
    before = snapshot()
    assert refresh_with(server, installation, status, LEGACY) == "retry-later"
    installation.refresh_from_db()
    assert installation.status == "active" and installation.refresh_failures == 1
    assert snapshot() == before


def test_a_legacy_member_in_a_2xx_is_not_an_error(server, installed):  # noqa: F811
    installation = installed(error_code_aliases=ALIASES)
    answer = {
        "access_token": "at-2-abcdefgh",
        "refresh_token": "rt-1-abcdefgh",
        "token_type": "bearer",
        "expires_in": 1800,
        "status": "BAD_REFRESH_TOKEN",
    }
    assert refresh_with(server, installation, 200, answer) == "refreshed"
    assert Token.objects.get().access_token == "at-2-abcdefgh"


@pytest.mark.parametrize(
    "aliases",
    [
        {"status": {"BAD_REFRESH_TOKEN": "invalid grant"}},  # not a token
        {"status": {"BAD_REFRESH_TOKEN": 400}},
        {"status": {1: "invalid_grant"}},
    ],
)
def test_a_bad_alias_declaration_fails_when_the_class_is_created(aliases):
    with pytest.raises(ValueError, match="error_code_aliases"):
        type("BadAliases", (Provider,), {"key": "bad", "error_code_aliases": aliases})
