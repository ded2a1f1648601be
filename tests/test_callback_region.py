"""The data-centre knobs of the provider model (needed by Zoho Desk), provider-neutral.

``callback_region``: a callback parameter picks one of the *declared* regions by exact
value; ``token_region_fields``: token-answer members that must name that region;
``api_headers`` values with ``{tenant}``. End-to-end over loopback HTTP in
``tests/providers/test_zoho_desk.py``; here the rules themselves, without I/O.
"""

from __future__ import annotations

import pytest
from django.http import QueryDict

from django_helpdesk_oauth.exceptions import InvalidConnectionConfig, InvalidTenant
from django_helpdesk_oauth.providers.base import Provider


class Centres(Provider):
    __test__ = False
    key = "centres"
    name = "Centres"
    regions = {
        "one": {"auth": "https://auth.one.example", "api": "https://api.one.example"},
        "two": {"auth": "https://auth.two.example", "api": "https://api.two.example"},
    }
    default_region = "one"
    callback_region = ("auth-server", "auth")
    token_region_fields = {"api_domain": "api"}
    api_headers = {"X-Org": "{tenant}", "X-Static": "yes"}


def test_the_callback_picks_a_declared_region_by_exact_value():
    spec = Centres()
    query = QueryDict("auth-server=https://auth.two.example")
    assert spec.connection_config_from_callback(query, {"region": "one"}) == {"region": "two"}
    assert spec.connection_config_from_callback({}, {}) == {"region": "one"}


@pytest.mark.parametrize(
    "value", ["https://auth.two.example/", "https://auth.evil.example", "two", "", "https://x"]
)
def test_a_callback_value_naming_no_declared_region_is_refused(value):
    with pytest.raises(InvalidConnectionConfig):
        Centres().connection_config_from_callback({"auth-server": value}, {})


def test_a_repeated_callback_parameter_is_refused():
    query = QueryDict("auth-server=https://auth.one.example&auth-server=https://auth.two.example")
    with pytest.raises(InvalidConnectionConfig, match="repeated"):
        Centres().connection_config_from_callback(query, {})


def test_a_bad_stored_config_is_refused_whatever_the_callback_says():
    with pytest.raises(InvalidConnectionConfig):
        Centres().connection_config_from_callback({}, {"region": "mars"})


def test_without_the_knob_the_callback_never_chooses():
    class Plain(Centres):
        callback_region = ()

    query = {"auth-server": "https://auth.two.example"}
    assert Plain().connection_config_from_callback(query, {}) == {"region": "one"}


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ({"api_domain": "https://api.two.example"}, True),
        ({}, True),  # not stated: nothing to compare
        ({"api_domain": "https://api.one.example"}, False),
        ({"api_domain": "https://api.two.example/"}, False),
        ({"api_domain": ["https://api.two.example"]}, False),
    ],
)
def test_token_answer_members_must_name_the_region(answer, ok):
    spec = Centres()
    if ok:
        spec.check_token_region(answer, {"region": "two"})
    else:
        with pytest.raises(InvalidConnectionConfig):
            spec.check_token_region(answer, {"region": "two"})


def test_tenant_headers_are_left_out_until_the_tenant_is_known():
    spec = Centres()
    assert spec.api_headers_for("") == {"X-Static": "yes"}
    assert spec.api_headers_for("acme") == {"X-Org": "acme", "X-Static": "yes"}
    with pytest.raises(InvalidTenant):
        spec.api_headers_for("evil\r\nX-Injected: 1")


def test_a_callback_region_needs_regions():
    with pytest.raises(ValueError, match="callback_region"):

        class Broken(Provider):
            key = "broken"
            callback_region = ("auth-server", "auth")
