"""Issue 9 §1, review findings: what a provider answers never costs a good token.

Each kind is tried on the public paths (the Celery task, the install callback,
``installation.api_session()``, the uninstall URL and command, the admin rotate
view and ``helpdesk_oauth_rotate_secret``) for Gorgias (never rotates) and
Kustomer (rotates), against the sandbox after a *real* grant
(``state.reshape_token_response``: the code is used up, a Kustomer ``rt-1``
really spent and ``rt-2`` issued) or with a queued fault (``state.inject``).

1. A 2xx whose JSON also carries ``error`` is never ``InvalidGrant`` /
   ``InvalidClient``: the access token is unusable, the refresh token in it kept.
2. A junk ``refresh_token`` (blank, whitespace, ``"null"``, a JSON number…) is
   absent: the stored one is kept.
3. Valid JSON beyond Python's parser (a > 4300-digit integer, 100,000 levels of
   nesting) still yields its refresh token.
4. A client secret the provider generated is stored as it came.
5. A revoke endpoint answering 3xx is retried, never abandoned; any 2xx is a revocation.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.models import Installation, PendingRevocation, ProviderApp, Token
from django_helpdesk_oauth.services.secrets import register_app
from django_helpdesk_oauth.token_response import MAX_TOKEN_LENGTH
from tests import flows
from tests.commands.conftest import ADMIN_KEY, Runner
from tests.test_uninstall import post_uninstall, staff  # noqa: F401  (staff: a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

REAL = 7200
FALLBACK = 86400


def run_refresh(installation_id: int) -> list[str]:
    """The task's results, run again after a transient failure as the next sweep would
    (an eager ``.apply()`` either retries at once or answers ``"retry-later"``)."""
    results = [tasks.refresh_installation_token.apply(args=[installation_id]).get()]
    while results[-1] == "retry-later" and len(results) < 3:
        results.append(tasks.refresh_installation_token.apply(args=[installation_id]).get())
    return results


def refreshes(sandbox) -> list[dict[str, Any]]:
    return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")


def live(sandbox, provider: str) -> list[str]:
    return [t.token for t in sandbox.state.live_refresh_tokens(provider=provider)]


def issued(sandbox) -> list[str]:
    state = sandbox.state
    with state.lock:
        return [t for t in (*state.access_tokens, *state.refresh_tokens, *state.codes) if t]


def assert_no_token_in(sandbox, *texts: str) -> None:
    for text in texts:
        for token in issued(sandbox):
            assert token not in text


def make_due() -> None:
    Token.objects.update(expires_at=timezone.now())


def install(sandbox, browser, app):
    params = {"account": "acme"} if app.provider == "gorgias" else {"org": "acme"}
    org = "acme" if app.provider == "kustomer" else None
    return flows.install(browser, sandbox, app.slug, params, consent_org=org)


def api_path(provider: str) -> str:
    return "account" if provider == "gorgias" else "customers"


@pytest.fixture
def run():
    """A management command runner that checks no secret reaches the output."""
    return Runner()


@pytest.fixture
def secret_file(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "key"
        path.write_text(text)
        return str(path)

    return write


@pytest.fixture
def app_for(gorgias_app, kustomer_app):
    return lambda provider: gorgias_app if provider == "gorgias" else kustomer_app


# -- 1. a 2xx carrying "error" ------------------------------------------------------------------

#: Merged over the real answer (its tokens stay): the sanitized code the message names.
ERROR_200 = {
    "invalid_grant": ({"error": "invalid_grant"}, "invalid_grant"),
    "invalid_grant-described": (
        {"error": "invalid_grant", "error_description": "Refresh token rotated"},
        "invalid_grant",
    ),
    "invalid_client": ({"error": "invalid_client"}, "invalid_client"),
    "unauthorized_client": ({"error": "unauthorized_client"}, "unauthorized_client"),
    "temporarily_unavailable": ({"error": "temporarily_unavailable"}, "temporarily_unavailable"),
    "error-with-markup": ({"error": "bad code\n<script>"}, "invalid_response"),
    "error-object": ({"error": {"code": "invalid_grant"}}, "invalid_response"),
    "error-number": ({"error": 400}, "invalid_response"),
    "error-true": ({"error": True}, "invalid_response"),
}


@pytest.mark.parametrize("name", list(ERROR_200))
def test_kustomer_refresh_keeps_the_rotated_token_of_a_200_with_error(
    name, sandbox7200, installed, kustomer_app, caplog, failures
):
    sandbox = sandbox7200
    reshape, code = ERROR_200[name]
    installation = installed(kustomer_app)
    spent = Token.objects.get().refresh_token
    make_due()
    sandbox.state.reshape_token_response(reshape, provider="kustomer")
    results = run_refresh(installation.pk)
    installation.refresh_from_db()
    token = Token.objects.get()
    assert results[-1] == "refreshed", results
    assert installation.status == "active"
    assert spent not in live(sandbox, "kustomer")  # rt-1 was really spent …
    # … rt-2 came in the 200 with "error" and was stored at once: the retry used it.
    assert [r["status"] for r in refreshes(sandbox)] == [200, 200]
    assert refreshes(sandbox)[1]["refresh_token"] not in ("", spent)
    assert token.refresh_token in live(sandbox, "kustomer")
    assert sandbox.state.find_access_token(token.access_token) is not None
    assert len(failures) == 1 and f"carries the error {code}" in failures[0]
    # An "error" in a 2xx is no refused client: the app is not marked either.
    assert ProviderApp.objects.get(pk=kustomer_app.pk).last_error == ""
    assert "<script>" not in failures[0]
    assert_no_token_in(sandbox, caplog.text, installation.last_error, *failures)


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
@pytest.mark.parametrize("name", ["invalid_grant", "invalid_client", "temporarily_unavailable"])
def test_a_200_with_only_an_error_is_transient_never_needs_reauth(
    name, provider, sandbox7200, installed, app_for, caplog
):
    """No token in it at all: still no ``invalid_grant``. Gorgias (nothing spent) refreshes
    on the retry; Kustomer's rt-1 is spent and the answer had no rt-2, so only then does
    the provider's own 400 invalid_grant mark the installation."""
    sandbox = sandbox7200
    app = app_for(provider)
    installation = installed(app)
    kept = Token.objects.get().refresh_token
    make_due()
    sandbox.state.reshape_token_response(lambda body: {"error": name}, provider=provider)
    results = run_refresh(installation.pk)
    installation.refresh_from_db()
    statuses = [r["status"] for r in refreshes(sandbox)]
    if provider == "gorgias":
        assert results[-1] == "refreshed", results
        assert installation.status == "active"
        assert statuses == [200, 200]
        assert Token.objects.get().refresh_token == kept
    else:
        assert results[-1] == "failed"
        assert statuses == [200, 400]  # the needs_reauth comes from a real 400
        assert installation.status == "needs_reauth"
    assert ProviderApp.objects.get(pk=app.pk).last_error == ""
    assert_no_token_in(sandbox, caplog.text)


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
@pytest.mark.parametrize("name", ["invalid_grant", "temporarily_unavailable", "error-with-markup"])
def test_callback_keeps_the_refresh_token_of_a_200_with_error(
    name, provider, sandbox7200, browser, app_for, caplog
):
    """The code is spent: the refresh token is stored, the access token refused."""
    sandbox = sandbox7200
    reshape, code = ERROR_200[name]
    app = app_for(provider)
    sandbox.state.reshape_token_response(reshape, provider=provider)
    response = install(sandbox, browser, app)
    assert response.status_code == 302, response.text
    installation = Installation.objects.get(app=app, tenant="acme")
    token = Token.objects.get(installation=installation)
    assert installation.status == "active"
    assert token.refresh_token in live(sandbox, provider)
    assert token.access_token == "" and token.expires_at <= timezone.now()
    assert f"carries the error {code}" in installation.last_error
    assert "<script>" not in installation.last_error
    # The first API call refreshes with the stored refresh token and succeeds.
    assert installation.api_session().get(api_path(provider)).status_code == 200
    assert [r["status"] for r in refreshes(sandbox)] == [200]
    assert_no_token_in(sandbox, caplog.text, response.text, installation.last_error)


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_callback_with_only_an_error_in_a_200_writes_nothing(
    provider, sandbox7200, browser, app_for
):
    """Nothing usable: no installation; not the 400 of a refused code (the 200 was no
    refusal), but Gorgias can't check the id_token nonce (400) and Kustomer has nothing
    to keep (502)."""
    sandbox = sandbox7200
    app = app_for(provider)
    sandbox.state.reshape_token_response(lambda body: {"error": "invalid_grant"}, provider=provider)
    response = install(sandbox, browser, app)
    assert response.status_code == (400 if provider == "gorgias" else 502)
    assert not Installation.objects.exists() and not Token.objects.exists()


@pytest.mark.parametrize("name", ["invalid_grant", "temporarily_unavailable"])
def test_api_session_keeps_the_rotated_token_of_a_200_with_error(
    name, sandbox7200, installed, kustomer_app, caplog
):
    sandbox = sandbox7200
    installation = installed(kustomer_app)
    first = Token.objects.get()
    Token.objects.update(expires_at=timezone.now() + timedelta(seconds=60))  # in the margin
    sandbox.state.reshape_token_response(ERROR_200[name][0], provider="kustomer")
    session = installation.api_session()
    assert session.get("customers").status_code == 200  # the old, still valid, token
    token = Token.objects.get()
    assert token.refresh_token in live(sandbox, "kustomer")
    assert token.refresh_token != first.refresh_token
    assert Installation.objects.get().status == "active"
    assert session.get("customers").status_code == 200
    assert [r["status"] for r in refreshes(sandbox)] == [200, 200]
    assert_no_token_in(sandbox, caplog.text)


# -- 2. a junk refresh token never overwrites a good one ---------------------------------------

JUNK = {
    "spaces": "   ",
    "tab": "\t",
    "empty": "",
    "null-text": "null",
    "NULL-text": "NULL",
    "None-text": "None",
    "undefined": "undefined",
    "true-text": "true",
    "False-text": "False",
    "zero": 0,
    "one": 1,
    "long-number": 12345678901234567890,
    "float": 1.5,
    "json-true": True,
    "json-null": None,
    "list": ["rt"],
    "object": {"token": "rt"},
    "inner-space": "rt 2",
    "newline": "rt-2\n",
    "nul": "rt-2\x00",
    "non-ascii": "rt-2é",
    "too-long": "r" * (MAX_TOKEN_LENGTH + 1),
}


@pytest.mark.parametrize("name", list(JUNK))
def test_gorgias_refresh_keeps_its_refresh_token(name, sandbox7200, installed, gorgias_app, caplog):
    sandbox = sandbox7200
    installation = installed(gorgias_app)
    kept = Token.objects.get().refresh_token
    make_due()
    sandbox.state.reshape_token_response({"refresh_token": JUNK[name]}, provider="gorgias")
    assert run_refresh(installation.pk) == ["refreshed"]
    assert Token.objects.get().refresh_token == kept
    # The next refresh sends the good token and succeeds (junk would get invalid_grant).
    make_due()
    assert run_refresh(installation.pk) == ["refreshed"]
    assert [(r["refresh_token"], r["status"]) for r in refreshes(sandbox)] == [(kept, 200)] * 2
    assert Installation.objects.get().status == "active"
    assert_no_token_in(sandbox, caplog.text)


@pytest.mark.parametrize("name", ["spaces", "null-text", "zero", "tab", "undefined"])
def test_gorgias_api_session_keeps_its_refresh_token(name, sandbox7200, installed, gorgias_app):
    sandbox = sandbox7200
    installation = installed(gorgias_app)
    kept = Token.objects.get().refresh_token
    Token.objects.update(expires_at=timezone.now() + timedelta(seconds=60))
    sandbox.state.reshape_token_response({"refresh_token": JUNK[name]}, provider="gorgias")
    assert installation.api_session().get("account").status_code == 200
    assert [r["status"] for r in refreshes(sandbox)] == [200]
    assert Token.objects.get().refresh_token == kept


@pytest.mark.parametrize("name", ["spaces", "null-text", "zero", "json-true"])
@pytest.mark.parametrize(
    "shape",
    [
        # An unusable access token beside it: the salvage path.
        lambda body, junk: {
            **body,
            "access_token": body["access_token"] + "\n",
            "refresh_token": junk,
        },
        # Not a JSON object: the non-object salvage paths.
        lambda body, junk: [{**body, "refresh_token": junk}],
        lambda body, junk: HttpResponse(
            f"access_token=x&refresh_token={junk}", content_type="application/x-www-form-urlencoded"
        ),
    ],
    ids=["salvage", "array", "form"],
)
def test_gorgias_salvage_never_stores_a_junk_refresh_token(
    shape, name, sandbox7200, installed, gorgias_app
):
    sandbox = sandbox7200
    installation = installed(gorgias_app)
    kept = Token.objects.get().refresh_token
    make_due()
    junk = JUNK[name]
    sandbox.state.reshape_token_response(lambda body: shape(body, junk), provider="gorgias")
    assert run_refresh(installation.pk)[-1] == "refreshed"
    assert Token.objects.get().refresh_token == kept
    assert [(r["refresh_token"], r["status"]) for r in refreshes(sandbox)] == [(kept, 200)] * 2


@pytest.mark.parametrize("name", ["spaces", "null-text", "zero", "empty"])
def test_kustomer_junk_refresh_token_is_not_stored_and_is_logged(
    name, sandbox7200, installed, kustomer_app, caplog
):
    """rt-2 never reached us (the answer had junk instead): the junk is not stored, the
    previous token stays, and the missing rotation is logged."""
    sandbox = sandbox7200
    installation = installed(kustomer_app)
    previous = Token.objects.get().refresh_token
    make_due()
    sandbox.state.reshape_token_response({"refresh_token": JUNK[name]}, provider="kustomer")
    assert run_refresh(installation.pk) == ["refreshed"]
    assert Token.objects.get().refresh_token == previous
    assert "rotates refresh tokens but its answer has no usable one" in caplog.text
    assert_no_token_in(sandbox, caplog.text)


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
@pytest.mark.parametrize("name", ["spaces", "null-text", "zero", "tab"])
def test_callback_never_stores_a_junk_refresh_token(name, provider, sandbox7200, browser, app_for):
    sandbox = sandbox7200
    app = app_for(provider)
    sandbox.state.reshape_token_response({"refresh_token": JUNK[name]}, provider=provider)
    assert install(sandbox, browser, app).status_code == 302
    token = Token.objects.get()
    assert token.refresh_token == ""
    assert sandbox.state.find_access_token(token.access_token) is not None


# -- 3. valid JSON beyond Python's parser ----------------------------------------------------


def raw_json(replace: dict[str, str]):
    """The real answer as JSON text, with ``"@key@"`` placeholders replaced by raw text."""

    def shape(body: dict[str, Any]) -> HttpResponse:
        for key in replace:
            body[key] = f"@{key}@"
        text = json.dumps(body)
        for key, raw in replace.items():
            text = text.replace(f'"@{key}@"', raw)
        return HttpResponse(text, content_type="application/json")

    return shape


DEEP = "[" * 100_000 + "]" * 100_000
HUGE = {
    # Still a usable answer: the huge integer reads as null.
    "huge-int-unrelated": (raw_json({"x": "9" * 5000}), "usable"),
    "huge-negative-int-unrelated": (raw_json({"x": "-" + "9" * 5000}), "usable"),
    "huge-int-expires_in": (raw_json({"expires_in": "9" * 5000}), "usable"),
    # Too deep to parse: the one top-level refresh_token member is read from the text.
    "deep-unrelated": (raw_json({"x": DEEP}), "deep"),
    "deep-object-unrelated": (raw_json({"x": '{"a":' * 50_000 + "1" + "}" * 50_000}), "deep"),
}


@pytest.mark.parametrize("name", list(HUGE))
def test_kustomer_refresh_keeps_the_rotated_token_of_an_answer_beyond_the_parser(
    name, sandbox7200, installed, kustomer_app, caplog
):
    sandbox = sandbox7200
    reshape, kind = HUGE[name]
    installation = installed(kustomer_app)
    spent = Token.objects.get().refresh_token
    make_due()
    sandbox.state.reshape_token_response(reshape, provider="kustomer")
    before = timezone.now()
    results = run_refresh(installation.pk)
    assert results[-1] == "refreshed", results
    token = Token.objects.get()
    assert spent not in live(sandbox, "kustomer")
    assert token.refresh_token in live(sandbox, "kustomer")
    assert Installation.objects.get().status == "active"
    if kind == "usable":
        assert [r["status"] for r in refreshes(sandbox)] == [200]
        lifetime = (token.expires_at - before).total_seconds()
        expected = FALLBACK if name == "huge-int-expires_in" else REAL
        assert expected - 5 <= lifetime <= expected + 1
    else:
        # Unusable (no access token read), rt-2 kept, the retry used it.
        assert [r["status"] for r in refreshes(sandbox)] == [200, 200]
        assert refreshes(sandbox)[1]["refresh_token"] != spent
    assert_no_token_in(sandbox, caplog.text)


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
@pytest.mark.parametrize("name", ["huge-int-unrelated", "huge-int-expires_in", "deep-unrelated"])
def test_callback_with_an_answer_beyond_the_parser(name, provider, sandbox7200, browser, app_for):
    sandbox = sandbox7200
    reshape, kind = HUGE[name]
    app = app_for(provider)
    sandbox.state.reshape_token_response(reshape, provider=provider)
    response = install(sandbox, browser, app)
    if kind == "deep" and provider == "gorgias":
        # No parsed object, so no id_token to check the nonce against: nothing trusted.
        assert response.status_code == 400
        assert not Token.objects.exists()
        return
    assert response.status_code == 302, response.text
    token = Token.objects.get()
    assert token.refresh_token in live(sandbox, provider)
    if kind == "usable":
        assert sandbox.state.find_access_token(token.access_token) is not None
    else:
        assert token.access_token == ""
        assert Installation.objects.get().api_session().get(api_path(provider)).status_code == 200


@pytest.mark.parametrize(
    "text",
    [
        # Two occurrences, nested, escaped or not a string: nothing is guessed.
        '{"refresh_token": "rt-a", "x": {"refresh_token": "rt-b"}, "d": ' + DEEP + "}",
        '{"x": {"refresh_token": "rt-a"}, "d": ' + DEEP + "}",
        '{"d": ' + DEEP + ', "s": "\\"refresh_token\\": \\"rt-a\\""}',
        '{"refresh_token": "rt\\u0041", "d": ' + DEEP + "}",
        '{"refresh_token": 12345, "d": ' + DEEP + "}",
        '{"refresh_token": "null", "d": ' + DEEP + "}",
        "[" + '{"refresh_token": "rt-a"}, ' + DEEP + "]",
    ],
    ids=["twice", "nested", "in-a-string", "escaped", "number", "placeholder", "array"],
)
def test_a_deep_body_yields_only_an_unambiguous_refresh_token(text):
    from django_helpdesk_oauth.providers import get_provider
    from django_helpdesk_oauth.token_response import decode_body, parse_token_response

    parsed = parse_token_response(
        get_provider("kustomer"), decode_body(text.encode()), now=timezone.now()
    )
    assert parsed.refresh_token == "" and not parsed.usable


def test_a_deep_body_after_its_refresh_token():
    from django_helpdesk_oauth.providers import get_provider
    from django_helpdesk_oauth.token_response import decode_body, parse_token_response

    text = '{"access_token": "at", "refresh_token" : "rt-2.x~y", "d": ' + DEEP + "}"
    parsed = parse_token_response(
        get_provider("kustomer"), decode_body(text.encode()), now=timezone.now()
    )
    assert (parsed.refresh_token, parsed.access_token, parsed.usable) == ("rt-2.x~y", "", False)


# -- 4. a secret the provider generated is stored as it came -----------------------------------

ODD_SECRETS = {
    "inner-space": "generated secret 0001",
    "padded": "  generated-0002  ",
    "tab": "generated\t0003",
    "long": "g" * 1500,
}
NO_SECRET = {
    "missing": {"data": {"attributes": {}}},
    "empty": {"data": {"attributes": {"clientSecret": ""}}},
    "number": {"data": {"attributes": {"clientSecret": 12345}}},
    "null": {"data": {"attributes": {"clientSecret": None}}},
    "not-an-object": ["x"],
}


def generated(secret: str) -> dict[str, Any]:
    return {"data": {"type": "available_app", "attributes": {"clientSecret": secret}}}


@pytest.fixture
def kapp(sandbox):
    return register_app(
        provider_key="kustomer", slug="kust", name="myapp", title="My App", api_key=ADMIN_KEY
    )


@pytest.mark.parametrize("name", [*ODD_SECRETS, "same-as-current"])
def test_admin_rotate_stores_a_generated_secret_as_it_came(
    name, admin_client, sandbox, kapp, caplog
):
    old = kapp.client_secret
    secret = old if name == "same-as-current" else ODD_SECRETS[name]
    sandbox.state.inject("apps", status=200, body=generated(secret))
    url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[kapp.pk])
    response = admin_client.post(url, {"api_key": ADMIN_KEY})
    assert response.status_code == 302, response.content.decode()[:2000]
    kapp.refresh_from_db()
    assert kapp.client_secret == secret
    assert kapp.previous_client_secret == ("" if name == "same-as-current" else old)
    assert kapp.secret_rotated_at is not None
    assert secret not in caplog.text
    page = admin_client.get(response["Location"]).content.decode()
    assert secret.strip()[:-4] not in page


@pytest.mark.parametrize("name", list(NO_SECRET))
def test_admin_rotate_without_a_secret_says_to_check_the_portal(name, admin_client, sandbox, kapp):
    old = kapp.client_secret
    sandbox.state.inject("apps", status=200, body=NO_SECRET[name])
    url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[kapp.pk])
    response = admin_client.post(url, {"api_key": ADMIN_KEY})
    assert response.status_code == 200
    page = response.content.decode()
    assert "may have rotated the secret already" in page and "portal" in page
    kapp.refresh_from_db()
    assert kapp.client_secret == old and kapp.previous_client_secret == ""


@pytest.mark.parametrize("name", ["inner-space", "padded", "long"])
def test_command_stores_a_generated_secret_as_it_came(name, run, sandbox, kapp, secret_file):
    old = kapp.client_secret
    sandbox.state.inject("apps", status=200, body=generated(ODD_SECRETS[name]))
    run.remember(ODD_SECRETS[name].strip())
    run("helpdesk_oauth_rotate_secret", "kust", "--api-key-file", secret_file(ADMIN_KEY))
    kapp.refresh_from_db()
    assert kapp.client_secret == ODD_SECRETS[name] and kapp.previous_client_secret == old


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": NO_SECRET["missing"]},
        {"status": 200, "body": NO_SECRET["number"]},
        {"status": 502, "body": None},
    ],
    ids=["no-secret", "number", "502"],
)
def test_command_without_a_secret_says_to_check_the_portal(fault, run, sandbox, kapp, secret_file):
    old = kapp.client_secret
    sandbox.state.inject("apps", **fault)
    message = run.error(
        "helpdesk_oauth_rotate_secret", "kust", "--api-key-file", secret_file(ADMIN_KEY)
    )
    assert "may have rotated the secret already" in message and "portal" in message
    kapp.refresh_from_db()
    assert kapp.client_secret == old


def test_the_paste_path_keeps_its_validation(admin_client, gorgias_app):
    url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[gorgias_app.pk])
    response = admin_client.post(url, {"new_secret": "pasted with spaces"})
    assert response.status_code == 200
    gorgias_app.refresh_from_db()
    assert gorgias_app.client_secret != "pasted with spaces"


# -- 5. a revoke endpoint answering 3xx, 202 or 204 -------------------------------------------


def revokes(sandbox) -> list[dict[str, Any]]:
    return sandbox.state.matching_requests(endpoint="revoke")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirecting_revoke_endpoint_is_retried_from_the_uninstall_url(
    status,
    sandbox,
    browser,
    installed,
    gorgias_app,
    staff,  # noqa: F811
):
    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    sandbox.state.inject(
        "revoke", status=status, headers={"Location": "https://elsewhere.example/revoke"}, body=""
    )
    response = post_uninstall(browser, sandbox, installation)
    assert response.status_code == 302
    assert Installation.objects.get().status == "uninstalled" and not Token.objects.exists()
    # Not abandoned: a retry is pending, with backoff.
    pending = PendingRevocation.objects.get()
    assert pending.attempts == 1 and pending.token == refresh_token
    assert pending.next_attempt_at > timezone.now()
    assert "redirect" in pending.last_error
    PendingRevocation.objects.update(next_attempt_at=timezone.now())
    assert tasks.revoke_pending_token.apply((pending.pk,)).get() is True
    assert [r["status"] for r in revokes(sandbox)] == [status, 200]
    assert refresh_token not in live(sandbox, "gorgias")


def test_a_redirecting_revoke_endpoint_is_pending_from_the_command(
    run, sandbox, installed, gorgias_app
):
    installation = installed(gorgias_app)
    sandbox.state.inject("revoke", status=302, headers={"Location": "https://elsewhere.example/"})
    output = run("helpdesk_oauth_uninstall", str(installation.pk))
    assert "revocation pending" in output.out
    assert PendingRevocation.objects.get().attempts == 1


@pytest.mark.parametrize("status", [200, 202, 204])
def test_any_2xx_from_the_revoke_endpoint_is_a_revocation(
    status, run, sandbox, installed, gorgias_app
):
    installation = installed(gorgias_app)
    sandbox.state.inject("revoke", status=status, body="")
    output = run("helpdesk_oauth_uninstall", str(installation.pk))
    assert "revoked at the provider" in output.out
    assert not PendingRevocation.objects.exists()
    assert [r["status"] for r in revokes(sandbox)] == [status]
