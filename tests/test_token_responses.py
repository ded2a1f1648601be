"""Issue 9 §1: a 2xx from the token endpoint is never thrown away.

Every odd answer below is produced by the sandbox *after a real grant*
(``state.reshape_token_response``): the code is used up, a Kustomer refresh
token really spent and a new one issued; only the JSON our client receives is
changed. Each answer is tried on the refresh path (the Celery task on a due
Kustomer installation), on the install callback (Gorgias and Kustomer) and
through ``installation.api_session()``.

What is asserted: what is stored (above all the rotated refresh token: the next
refresh succeeds at the sandbox, no ``needs_reauth``), the ``expires_at`` chosen,
the HTTP status (never 500), and that no token appears in a log line, an
exception message or ``installation.last_error``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.http import HttpResponse
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.exceptions import UnusableAccessToken
from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.services import RefreshRetryLater
from tests import flows

pytestmark = pytest.mark.django_db(transaction=True)

#: The sandbox's access-token lifetime in these tests (its ``expires_in`` / JWT ``exp``),
#: chosen apart from both providers' documented fallback (24 h) so the source shows.
REAL = 7200
FALLBACK = 86400


def fake_jwt(exp: Any) -> str:
    """A JWT-shaped access token with this ``exp`` claim (unsigned: only its shape matters)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'exp': exp, 'sub': 'x'})}.c2ln"


def with_access(suffix: str):
    """The real access token with ``suffix`` appended (a newline, a non-ASCII character…)."""
    return lambda body: {**body, "access_token": body["access_token"] + suffix}


def without(key: str):
    return lambda body: {k: v for k, v in body.items() if k != key}


def form_encoded(body: dict[str, Any]) -> HttpResponse:
    """The same answer form-encoded (a non-JSON 200, as GitHub-style servers send)."""
    return HttpResponse(
        urlencode({k: v for k, v in body.items() if isinstance(v, str | int)}),
        content_type="application/x-www-form-urlencoded",
    )


@dataclass(frozen=True)
class Odd:
    """One odd 200 answer and what it must lead to."""

    reshape: Any
    #: "lifetime": the access token is usable, only its lifetime is odd;
    #: "unusable": the access token is refused, the refresh token in it kept;
    #: "nothing": no usable access or refresh token in the answer at all.
    kind: str
    #: Expected lifetime in seconds for Kustomer (opaque token) and Gorgias (JWT with exp=REAL).
    kustomer: float | None = None
    gorgias: float | None = None
    #: The stored access token when not the sandbox's (a JSON integer read as its digits).
    access: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


ODD = {
    # expires_in in every form: usable when a sane number, else the next source.
    "expires_in-string-float": Odd({"expires_in": "3600.0"}, "lifetime", 3600, 3600),
    "expires_in-string-int": Odd({"expires_in": "3600"}, "lifetime", 3600, 3600),
    "expires_in-empty": Odd({"expires_in": ""}, "lifetime", FALLBACK, REAL),
    "expires_in-null": Odd({"expires_in": None}, "lifetime", FALLBACK, REAL),
    "expires_in-float": Odd({"expires_in": 3600.5}, "lifetime", 3600.5, 3600.5),
    "expires_in-negative": Odd({"expires_in": -5}, "lifetime", FALLBACK, REAL),
    "expires_in-zero": Odd({"expires_in": 0}, "lifetime", FALLBACK, REAL),
    "expires_in-1e12": Odd({"expires_in": 1e12}, "lifetime", FALLBACK, REAL),
    "expires_in-bool": Odd({"expires_in": True}, "lifetime", FALLBACK, REAL),
    "expires_in-garbage": Odd({"expires_in": "soon"}, "lifetime", FALLBACK, REAL),
    "expires_in-nested": Odd({"expires_in": {"s": 3600}}, "lifetime", FALLBACK, REAL),
    # The JWT exp as the only source: absurd or malformed → the documented lifetime.
    "jwt-exp-1e20": Odd(
        {"access_token": fake_jwt(1e20), "expires_in": 0}, "lifetime", FALLBACK, FALLBACK
    ),
    "jwt-exp-abc": Odd(
        {"access_token": fake_jwt("abc"), "expires_in": 0}, "lifetime", FALLBACK, FALLBACK
    ),
    "jwt-exp-negative": Odd(
        {"access_token": fake_jwt(-1), "expires_in": 0}, "lifetime", FALLBACK, FALLBACK
    ),
    # A JSON integer access token is read as its digits (exact, what other clients send).
    "access-token-integer": Odd(
        {"access_token": 1234567890123}, "lifetime", REAL, FALLBACK, access="1234567890123"
    ),
    "token-type-upper": Odd({"token_type": "BEARER"}, "lifetime", REAL, REAL),
    "token-type-missing": Odd(without("token_type"), "lifetime", REAL, REAL),
    # The access token cannot be used; the refresh token of the same answer is kept.
    "access-token-float": Odd({"access_token": 1.5}, "unusable"),
    "token-type-mac": Odd({"token_type": "mac"}, "unusable"),
    "token-type-number": Odd({"token_type": 1}, "unusable"),
    "access-token-newline": Odd(with_access("\nX-Injected: 1"), "unusable"),
    "access-token-e-acute": Odd(with_access("é"), "unusable"),
    "access-token-euro": Odd(with_access("€"), "unusable"),
    "access-token-space": Odd(with_access(" x"), "unusable"),
    "access-token-empty": Odd({"access_token": ""}, "unusable"),
    "access-token-null": Odd({"access_token": None}, "unusable"),
    "access-token-missing": Odd(without("access_token"), "unusable"),
    "array-body": Odd(lambda body: [body], "unusable"),
    "form-encoded-200": Odd(form_encoded, "unusable"),
    # Nothing to keep at all.
    "html-200": Odd(lambda body: HttpResponse("<html><body>OK</body></html>"), "nothing"),
    "empty-200": Odd(lambda body: HttpResponse(""), "nothing"),
    "json-string-200": Odd(lambda body: "ok", "nothing"),
}
SALVAGEABLE = {name: odd for name, odd in ODD.items() if odd.kind != "nothing"}


def secrets_of(sandbox) -> list[str]:
    """Every token the sandbox issued, and the odd forms of them the tests sent."""
    state = sandbox.state
    with state.lock:
        tokens = [*state.access_tokens, *state.refresh_tokens, *state.codes]
    return [t for t in tokens if len(t) >= 8]


def assert_no_token_in(sandbox, *texts: str) -> None:
    tokens = secrets_of(sandbox)
    for text in texts:
        for token in tokens:
            assert token not in text


def live_refresh_tokens(sandbox, provider: str) -> list[str]:
    return [t.token for t in sandbox.state.live_refresh_tokens(provider=provider)]


def refreshes(sandbox):
    return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")


def lifetime_of(token: Token, before, after) -> tuple[float, float]:
    """The stored lifetime's bounds in seconds, given when the answer was read."""
    return (
        (token.expires_at - after).total_seconds(),
        (token.expires_at - before).total_seconds(),
    )


def assert_lifetime(token: Token, before, after, expected: float) -> None:
    low, high = lifetime_of(token, before, after)
    assert low - 1 <= expected <= high + 1, (low, high, expected)


# -- the refresh path: the Celery task on a due Kustomer installation ----------------------


@pytest.mark.parametrize("name", list(ODD))
def test_refresh_task_keeps_the_rotated_refresh_token(
    name, sandbox7200, installed, kustomer_app, caplog, failures
):
    sandbox = sandbox7200
    odd = ODD[name]
    installation = installed(kustomer_app)
    spent = Token.objects.get().refresh_token
    Token.objects.update(expires_at=timezone.now())
    sandbox.state.reshape_token_response(odd.reshape, provider="kustomer")
    before = timezone.now()
    result = tasks.refresh_installation_token.apply(args=[installation.pk])
    if result.get() == "retry-later":
        # Run eagerly, the task leaves a transient failure to the next run (the sweep's).
        result = tasks.refresh_installation_token.apply(args=[installation.pk])
    after = timezone.now()

    installation.refresh_from_db()
    token = Token.objects.get()
    sent = [r["refresh_token"] for r in refreshes(sandbox)]
    assert sent[0] == spent  # the sandbox really spent rt-1 …
    assert spent not in live_refresh_tokens(sandbox, "kustomer")
    if odd.kind == "nothing":
        # … and the answer held no refresh token: the retry can only send the spent
        # one. The installation needs re-authorization; nothing raised, nothing leaked.
        assert result.get() == "failed"
        assert installation.status == "needs_reauth"
        assert [r["status"] for r in refreshes(sandbox)] == [200, 400]
    else:
        # … and issued rt-2, which was stored with the answer, so the next run (the
        # sweep's) or this one refresh succeeded: no needs_reauth.
        assert result.get() == "refreshed"
        assert installation.status == "active"
        assert installation.last_error == ""
        assert token.refresh_token in live_refresh_tokens(sandbox, "kustomer")
        assert token.token_type == "Bearer"
        if odd.kind == "unusable":
            assert len(sent) == 2 and sent[1] != spent
            assert [r["status"] for r in refreshes(sandbox)] == [200, 200]
            assert sandbox.state.find_access_token(token.access_token) is not None
            assert_lifetime(token, before, after, REAL)
            assert len(failures) == 1 and "unusable answer" in failures[0]
        else:
            assert len(sent) == 1
            assert_lifetime(token, before, after, odd.kustomer)
            if odd.access:
                assert token.access_token == odd.access
            # The next refresh sends the stored rt-2 and succeeds.
            Token.objects.update(expires_at=timezone.now())
            assert tasks.refresh_installation_token.apply(args=[installation.pk]).get() == (
                "refreshed"
            )
            assert refreshes(sandbox)[-1]["refresh_token"] == token.refresh_token
            assert refreshes(sandbox)[-1]["status"] == 200
    assert "Traceback" not in caplog.text
    assert_no_token_in(sandbox, caplog.text, installation.last_error, *failures)


def test_refresh_keeps_the_old_access_token_and_records_why(
    sandbox7200, installed, kustomer_app, caplog
):
    """One unusable answer, seen from the service (no automatic retry): what is stored."""
    from django_helpdesk_oauth.services import refresh_installation

    sandbox = sandbox7200
    installation = installed(kustomer_app)
    old = Token.objects.get()
    Token.objects.update(expires_at=timezone.now())
    sandbox.state.reshape_token_response(with_access("\n"), provider="kustomer")
    with pytest.raises(RefreshRetryLater) as raised:
        refresh_installation(installation.pk)
    token = Token.objects.get()
    installation.refresh_from_db()
    [rotated] = live_refresh_tokens(sandbox, "kustomer")
    assert token.refresh_token == rotated != old.refresh_token
    assert token.access_token == old.access_token  # the old one stays, still due
    assert token.expires_at <= timezone.now()
    assert token.refresh_count == old.refresh_count + 1  # the version guard sees the change
    assert token.last_refreshed_at == old.last_refreshed_at
    assert token.lease_owner == ""
    assert installation.status == "active"
    assert "cannot be sent in an HTTP header" in installation.last_error
    assert installation.refresh_failures == 1
    assert_no_token_in(sandbox, str(raised.value), caplog.text, installation.last_error)


def test_gorgias_refresh_recovers_from_an_html_200(sandbox7200, installed, gorgias_app, caplog):
    """Gorgias never rotates: an answer with nothing in it leaves the kept refresh token."""
    sandbox = sandbox7200
    installation = installed(gorgias_app)
    kept = Token.objects.get().refresh_token
    Token.objects.update(expires_at=timezone.now())
    sandbox.state.reshape_token_response(ODD["html-200"].reshape, provider="gorgias")
    assert tasks.refresh_installation_token.apply(args=[installation.pk]).get() == "retry-later"
    assert tasks.refresh_installation_token.apply(args=[installation.pk]).get() == "refreshed"
    assert [r["status"] for r in refreshes(sandbox)] == [200, 200]
    assert Token.objects.get().refresh_token == kept
    assert_no_token_in(sandbox, caplog.text)


# -- the install callback, Gorgias and Kustomer -----------------------------------------------


def callback_status(odd: Odd, provider: str) -> int:
    if odd.kind != "nothing" and not (
        provider == "gorgias" and odd.reshape in (ODD["array-body"].reshape, form_encoded)
    ):
        return 302
    # Gorgias: without a JSON object there is no id_token to check the nonce against, so
    # nothing from that answer can be trusted (400). Kustomer: nothing to keep (502).
    return 400 if provider == "gorgias" else 502


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
@pytest.mark.parametrize("name", list(ODD))
def test_callback_stores_what_is_usable(
    name, provider, sandbox7200, browser, gorgias_app, kustomer_app, caplog
):
    sandbox = sandbox7200
    odd = ODD[name]
    app = gorgias_app if provider == "gorgias" else kustomer_app
    sandbox.state.reshape_token_response(odd.reshape, provider=provider)
    params = {"account": "acme"} if provider == "gorgias" else {"org": "acme"}
    before = timezone.now()
    response = flows.install(
        browser, sandbox, app.slug, params, consent_org="acme" if provider == "kustomer" else None
    )
    after = timezone.now()
    expected = callback_status(odd, provider)
    assert response.status_code == expected, response.text
    assert_no_token_in(sandbox, caplog.text, response.text)
    if expected != 302:
        assert not Installation.objects.exists()  # nothing half-written
        assert not Token.objects.exists()
        return
    installation = Installation.objects.get(app=app, tenant="acme")
    token = Token.objects.get(installation=installation)
    assert installation.status == "active"
    assert token.refresh_token in live_refresh_tokens(sandbox, provider)
    assert token.token_type == "Bearer"
    if odd.kind == "lifetime":
        assert installation.last_error == ""
        assert_lifetime(token, before, after, getattr(odd, provider))
        if odd.access:
            assert token.access_token == odd.access
    else:
        # The code is spent: the refresh token is kept with an empty access token, due now.
        assert token.access_token == ""
        assert token.expires_at <= timezone.now()
        assert "unusable answer" in installation.last_error
        assert_no_token_in(sandbox, installation.last_error)
        # The first API call refreshes with the kept refresh token, then succeeds.
        path = "account" if provider == "gorgias" else "customers"
        assert installation.api_session().get(path).status_code == 200
        assert [r["status"] for r in refreshes(sandbox)] == [200]
        installation.refresh_from_db()
        assert installation.last_error == ""
    # Either way the next refresh succeeds with what was stored.
    Token.objects.update(expires_at=timezone.now())
    assert tasks.refresh_installation_token.apply(args=[installation.pk]).get() == "refreshed"
    assert refreshes(sandbox)[-1]["status"] == 200
    assert Installation.objects.get().status == "active"


# -- api_session() on a due token ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(SALVAGEABLE))
def test_api_session_on_a_due_token(name, sandbox7200, installed, kustomer_app, caplog):
    sandbox = sandbox7200
    odd = ODD[name]
    installation = installed(kustomer_app)
    first = Token.objects.get()
    # Inside the refresh margin, not expired: the session refreshes before the call.
    Token.objects.update(expires_at=timezone.now() + timedelta(seconds=60))
    sandbox.state.reshape_token_response(odd.reshape, provider="kustomer")
    session = installation.api_session()
    response = session.get("customers")
    token = Token.objects.get()
    assert token.refresh_token in live_refresh_tokens(sandbox, "kustomer")
    assert token.refresh_token != first.refresh_token
    if odd.kind == "unusable":
        # Refused; the still-valid old access token served the call, rt-2 is stored.
        assert response.status_code == 200
        assert token.access_token == first.access_token
        assert "unusable answer" in Installation.objects.get().last_error
        # The next call refreshes with rt-2 and succeeds.
        assert session.get("customers").status_code == 200
        assert [r["status"] for r in refreshes(sandbox)] == [200, 200]
        assert refreshes(sandbox)[1]["refresh_token"] == token.refresh_token
        assert Installation.objects.get().last_error == ""
    else:
        # A lifetime oddity: the new access token is used at once (a JSON-integer or
        # fake-JWT one is unknown to the sandbox: 401, refresh, retry → 200).
        assert response.status_code == 200
        assert refreshes(sandbox)[0]["status"] == 200
    assert Installation.objects.get().status == "active"
    assert_no_token_in(sandbox, caplog.text, Installation.objects.get().last_error)


@pytest.mark.parametrize("stored", ["\n", "é", "€", " ", ""], ids=repr)
def test_api_session_replaces_a_stored_token_that_cannot_go_in_a_header(
    stored, sandbox, installed, gorgias_app, kustomer_app, caplog
):
    """Rows written before answers were checked: refreshed once, then used."""
    installation = installed(kustomer_app)
    bad = Token.objects.get().access_token + stored if stored else ""
    token = Token.objects.get()
    token.access_token = bad
    token.save()
    response = installation.api_session().get("customers")
    assert response.status_code == 200
    assert [r["status"] for r in refreshes(sandbox)] == [200]
    assert Token.objects.get().access_token != bad


@pytest.mark.parametrize("stored", ["\nX: 1", "é", "€"], ids=repr)
def test_api_session_raises_a_typed_error_naming_no_token(
    stored, sandbox, installed, kustomer_app, caplog
):
    installation = installed(kustomer_app)
    token = Token.objects.get()
    token.access_token = token.access_token + stored
    token.save()
    sandbox.state.inject("token", status=503, times=20)
    with pytest.raises(UnusableAccessToken) as raised:
        installation.api_session().get("customers")
    message = str(raised.value)
    assert "header" in message
    assert token.access_token not in message and stored not in message
    assert sandbox.state.matching_requests(endpoint="api") == []  # nothing was sent
    assert_no_token_in(sandbox, message, caplog.text, Installation.objects.get().last_error)


# -- the parser itself: neighbours of each kind, without HTTP -------------------------------


@pytest.mark.parametrize(
    "expires_in",
    ["nan", "inf", "1e400", "١٢٠٠", "0x10", " ", [], {}, 10**400, -(10**30), float("inf")],
    ids=repr,
)
def test_unusable_lifetimes_fall_back_without_raising(expires_in):
    from datetime import UTC, datetime

    from django_helpdesk_oauth.providers import get_provider

    now = datetime(2026, 1, 1, tzinfo=UTC)
    info = get_provider("kustomer").token_expiry(
        {"access_token": "x", "expires_in": expires_in}, now
    )
    assert (info.source, info.expires_at - now) == ("fallback", timedelta(seconds=FALLBACK))


@pytest.mark.parametrize("exp", [1e20, 10**30, float("nan"), "abc", True, None, [1]], ids=repr)
def test_an_absurd_jwt_exp_falls_back_without_raising(exp):
    from datetime import UTC, datetime

    from django_helpdesk_oauth.providers import get_provider

    now = datetime(2026, 1, 1, tzinfo=UTC)
    info = get_provider("gorgias").token_expiry(
        {"access_token": fake_jwt(exp), "expires_in": 0}, now
    )
    assert info.source == "fallback"


def test_a_naive_now_works_too():
    """USE_TZ=False gives a naive now; the JWT exp (epoch) is read in local time."""
    from datetime import datetime

    from django_helpdesk_oauth.providers import get_provider

    now = datetime.now()
    exp = int(now.timestamp()) + 600
    info = get_provider("gorgias").token_expiry(
        {"access_token": fake_jwt(exp), "expires_in": 0}, now
    )
    assert info.source == "jwt_exp"
    assert info.expires_at.tzinfo is None
    assert 598 <= (info.expires_at - now).total_seconds() <= 601


@pytest.mark.parametrize(
    "body",
    [b"{", b"[[[[" * 100_000, b"\xff\xfe", b'{"access_token": NaN}', b"1" * 5000],
    ids=["truncated", "deeply-nested", "not-utf8", "nan", "huge-int"],
)
def test_any_body_is_read_without_raising(body):
    from django.utils import timezone as tz

    from django_helpdesk_oauth.providers import get_provider
    from django_helpdesk_oauth.token_response import decode_body, parse_token_response

    parsed = parse_token_response(get_provider("kustomer"), decode_body(body), now=tz.now())
    assert not parsed.usable
    assert parsed.refresh_token == ""
    assert parsed.access_token == ""
    assert parsed.expiry is None


def test_the_parsed_answer_names_no_token():
    from django_helpdesk_oauth.providers import get_provider
    from django_helpdesk_oauth.token_response import parse_token_response

    body = {"access_token": "at-secret-0001\n", "refresh_token": "rt-secret-0002"}
    parsed = parse_token_response(get_provider("kustomer"), body, now=timezone.now())
    assert parsed.refresh_token == "rt-secret-0002"
    for text in (repr(parsed), str(parsed), parsed.problem):
        assert "secret" not in text


@pytest.mark.parametrize(
    ("scheme", "token_type", "usable"),
    [
        ("Token", "Token", True),  # Testdesk: the type names the API's own scheme
        ("Token", "token", True),
        ("Token", "Bearer", True),
        ("Token", "mac", False),
        ("Bearer", "Token", False),  # another provider's scheme is still refused
        ("Zoho-oauthtoken", "Zoho-oauthtoken", True),
    ],
)
def test_a_token_type_naming_the_declared_api_scheme_is_usable(scheme, token_type, usable):
    from django_helpdesk_oauth.providers.base import Provider
    from django_helpdesk_oauth.token_response import parse_token_response

    provider = type("Schemed", (Provider,), {"key": "schemed", "api_auth_scheme": scheme})()
    body = {"access_token": "at-1-abcdefgh", "token_type": token_type, "expires_in": 60}
    parsed = parse_token_response(provider, body, now=timezone.now())
    assert parsed.usable is usable
    assert (parsed.access_token == "at-1-abcdefgh") is usable
    if not usable:
        assert parsed.problem == f"its token_type is not {scheme}"
    else:
        # What is stored on the Token (and shown in the admin): the type the answer
        # named, in the provider's own spelling, or Bearer.
        expected = scheme if token_type.lower() == scheme.lower() else "Bearer"
        assert parsed.token_type == expected
