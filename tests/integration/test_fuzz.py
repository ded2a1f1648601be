"""Fuzzing the install and callback query strings through Django's test client.

Never a 5xx, never an Installation or Token row; the install view writes one
AuthorizationRequest exactly when the tenant is valid, and the callback never
writes or consumes one with a state it did not issue.

Kept cheap so the suite can run the full count (``HELPDESK_OAUTH_FUZZ_EXAMPLES``,
1000 by default): one test database and one set of apps for all examples, one SQL
round trip per example for every row count it checks, and long values drawn at the
lengths that matter (the 63-character label, the 2048-character parameter cap)
instead of up to ~10,000 characters at random, URLs reversed once, and the
warning each refused request logs left unformatted (errors are still captured).
The longer run is ``python bench/reliability.py`` (5,000 examples).
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, ProviderApp, Token
from django_helpdesk_oauth.services.install import MAX_PARAM_LENGTH

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("HELPDESK_OAUTH_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# The spec (DESIGN.md): a tenant is one DNS label, compared in ASCII lower case.
DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
TENANT_PARAMS = {"gorgias": ("account", "tenant"), "kustomer": ("org", "tenant")}

interesting_values = st.sampled_from(
    [
        "acme",
        "ACME",
        " acme ",
        "acme\n",
        "a" * 63,
        "a" * 64,
        "-acme",
        "acme-",
        "acme.evil.com",
        "evil.com/x",
        "ａｃｍｅ",  # fullwidth  # noqa: RUF001
        "acme\x00",
        "",
        "xn--bcher-kva",
        "%00",
        "<script>",
        "' OR 1=1 --",
        "\u202eemca",
    ]
)
values = st.one_of(
    interesting_values,
    st.text(max_size=30),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=70),
    # Long values at and around the limits: a DNS label (63), the tenant column (63),
    # the parameter cap (MAX_PARAM_LENGTH) and one past it.
    st.builds(
        lambda s, n: (s * n)[:n],
        st.text(min_size=1, max_size=8),
        st.sampled_from(
            [62, 63, 64, 255, MAX_PARAM_LENGTH - 1, MAX_PARAM_LENGTH, MAX_PARAM_LENGTH + 1]
        ),
    ),
)
names = st.one_of(
    st.sampled_from(["account", "org", "tenant", "state", "code", "error", "iss", "next"]),
    st.text(max_size=12),
)
raw_tails = st.sampled_from(["", "&", "&&=", "%", "%ZZ", "%C3%28", "%FF%FE", "=&=", ";;", "+"])


@st.composite
def query_strings(draw, extra_names=()):
    pairs = draw(st.lists(st.tuples(st.one_of(names, *extra_names), values), max_size=6))
    if draw(st.booleans()) and pairs:  # repeat a parameter
        pairs.append(draw(st.sampled_from(pairs)))
    query = urlencode(pairs, quote_via=quote)
    return query + draw(raw_tails)


def expected_tenant(provider: str, query: str) -> tuple[str, str | None]:
    """``("valid", tenant)``, ``("ask", None)`` or ``("invalid", None)`` per the spec."""
    data = QueryDict(query)
    values = next((data.getlist(p) for p in TENANT_PARAMS[provider] if p in data), None)
    if values is not None and len(values) > 1:
        return ("invalid", None)  # a repeated tenant parameter is refused, not guessed
    raw = values[0] if values else None
    if raw is None:
        return ("ask", None) if provider == "kustomer" else ("invalid", None)
    value = raw.strip()
    if value.isascii():
        value = value.lower()
    return ("valid", value) if DNS_LABEL.fullmatch(value) else ("invalid", None)


def snapshot(after_pk: int = 0) -> tuple[int, int, int, int]:
    """``(installations, tokens, authorization requests with pk > after_pk, highest
    authorization request pk or 0)``, in one query."""
    installation, token, pending = (
        connection.ops.quote_name(model._meta.db_table)
        for model in (Installation, Token, AuthorizationRequest)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {installation}), (SELECT COUNT(*) FROM {token}), "
            f"(SELECT COUNT(*) FROM {pending} WHERE id > %s), "
            f"(SELECT COALESCE(MAX(id), 0) FROM {pending})",
            [after_pk],
        )
        return tuple(int(value) for value in cursor.fetchone())


SLUGS = ["gorgias", "kustomer", "disabled", "nope"]


def urls(name: str) -> dict[str, str]:
    """The view's URL for every slug, reversed once rather than once per example."""
    return {slug: reverse(f"helpdesk_oauth:{name}", args=[slug]) for slug in SLUGS}


@pytest.fixture
def apps(gorgias_app, kustomer_app, caplog):
    # Each refused request logs a warning; formatting thousands of them for the report
    # is most of a run's logging cost. Errors (a 500 would log one) are still captured.
    caplog.set_level(logging.ERROR, logger="django_helpdesk_oauth")
    caplog.set_level(logging.ERROR, logger="django.request")
    ProviderApp.objects.create(
        slug="disabled",
        provider="gorgias",
        name="Disabled",
        client_id="x",
        client_secret="disabled-secret",
        enabled=False,
    )
    return {"gorgias": gorgias_app, "kustomer": kustomer_app}


def test_fuzzed_install_requests(apps):
    client = Client()
    install = urls("install")
    seen = {"valid": 0, "ask": 0, "invalid": 0, "unavailable": 0}
    # Examples run one after another: each starts where the last one ended.
    installations, tokens, _, last = snapshot()
    assert (installations, tokens) == (0, 0)

    @FUZZ
    @given(
        slug=st.sampled_from(SLUGS),
        query=query_strings(),
    )
    def check(slug, query):
        nonlocal last
        response = client.get(f"{install[slug]}?{query}")
        assert response.status_code < 500, (query, response.status_code)
        # New rows (the browser's oldest pending ones are dropped beyond the cap).
        installations, tokens, written, newest = snapshot(after_pk=last)
        assert (installations, tokens) == (0, 0), query
        last = max(last, newest)
        if slug not in apps:
            seen["unavailable"] += 1
            assert response.status_code == 404 and written == 0
            return
        verdict, tenant = expected_tenant(apps[slug].provider, query)
        seen[verdict] += 1
        if verdict == "valid":
            assert response.status_code == 302, (query, response.status_code)
            assert written == 1, query
            latest = AuthorizationRequest.objects.latest("pk")
            assert latest.tenant == tenant and DNS_LABEL.fullmatch(latest.tenant)
            assert urlsplit(response["Location"]).scheme == "https"
        elif verdict == "ask":
            assert response.status_code == 200 and written == 0, query
        else:
            assert 400 <= response.status_code < 500 and written == 0, (query, response)

    check()
    # The generator reached every branch, valid tenants included.
    assert all(seen.values()), seen


def test_fuzzed_callbacks(apps):
    bound = Client()  # a browser with a pending install for each app
    issued = set()
    for slug, param in (("gorgias", "account"), ("kustomer", "org")):
        start = bound.get(reverse("helpdesk_oauth:install", args=[slug]), {param: "acme"})
        assert start.status_code == 302
        issued.add(QueryDict(urlsplit(start["Location"]).query)["state"])
    pending = AuthorizationRequest.objects.count()
    assert pending == 2 and snapshot()[:3] == (0, 0, 2)
    callback = urls("callback")

    @FUZZ
    @given(
        slug=st.sampled_from(SLUGS),
        browser=st.sampled_from(["bound", "fresh"]),
        query=query_strings(
            extra_names=[st.sampled_from(["state", "code", "error", "iss", "error_description"])]
        ),
    )
    def check(slug, browser, query):
        assert not issued & set(QueryDict(query).getlist("state"))
        client = bound if browser == "bound" else Client()
        response = client.get(f"{callback[slug]}?{query}")
        assert 400 <= response.status_code < 500, (query, response.status_code)
        # No installation or token, and no pending request written or consumed.
        assert snapshot()[:3] == (0, 0, pending), query

    check()
