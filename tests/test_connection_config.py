"""Installation.connection_config (issue 10): per-installation hosts (regions).

The region comes from the install URL only, is validated against the provider's
declared set, stored on the pending request, copied to the installation and used for
every endpoint; a value naming another region or host on the callback changes nothing
and nothing is sent there (counted at a second loopback server). Over loopback HTTP
against the test-only Regiondesk profile (tests/regiondesk.py).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest

from django_helpdesk_oauth.exceptions import ConfigurationError, InvalidConnectionConfig
from django_helpdesk_oauth.models import AuthorizationRequest, Installation, PendingRevocation
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services import uninstall
from django_helpdesk_oauth.tasks import revoke_pending_token
from tests import flows
from tests.regiondesk import Recorder, registered

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def regiondesk(sandbox, settings, recorder):
    # "au" lives at the recorder: whatever is sent to the AU hosts is counted there.
    with registered(sandbox, settings, "regiondesk", hosts={"au": recorder.host}) as app:
        yield app


def _paths(sandbox) -> list[str]:
    return [r["path"] for r in sandbox.state.matching_requests(provider="regiondesk")]


def _region_of(path: str) -> str:
    return path.split("/regiondesk/", 1)[1].split("/", 1)[0]


def test_the_region_of_the_install_url_picks_every_host(sandbox, browser, regiondesk, recorder):
    response = flows.install(
        browser, sandbox, regiondesk.slug, {"region": "eu"}, consent_org="ws-42"
    )
    assert response.status_code == 302, response.text
    installation = Installation.objects.get()
    assert installation.connection_config == {"region": "eu"}
    assert installation.api_base_url.endswith("/regiondesk/eu/api/")

    assert installation.api_session().get("tickets").status_code == 200
    result = uninstall(installation)
    assert result.revoked
    paths = _paths(sandbox)
    # token, identity, API and the revocation: all at the EU host, nothing elsewhere.
    assert len(paths) == 4 and {_region_of(p) for p in paths} == {"eu"}
    assert recorder.hits == 0


def test_no_region_means_the_declared_default(sandbox, browser, regiondesk):
    assert flows.install(browser, sandbox, regiondesk.slug, {}, consent_org="ws-42").status_code
    assert Installation.objects.get().connection_config == {"region": "us"}
    assert {_region_of(p) for p in _paths(sandbox)} == {"us"}


def test_a_region_maps_to_its_own_hosts(sandbox, browser, regiondesk, recorder):
    start = browser.get(
        f"{sandbox.url}/oauth/{regiondesk.slug}/install/",
        params={"region": "au"},
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 302
    # The consent page of the AU region is the AU host's (the recorder here).
    assert urlsplit(start.headers["Location"]).netloc == recorder.host
    assert AuthorizationRequest.objects.get().connection_config == {"region": "au"}


@pytest.mark.parametrize(
    "query",
    [
        {"region": "mars"},
        {"region": "EU"},
        {"region": ""},
        {"region": "eu/../au"},
        [("region", "us"), ("region", "eu")],
    ],
)
def test_an_unknown_or_repeated_region_is_refused_before_anything(
    sandbox, browser, regiondesk, recorder, query
):
    start = browser.get(
        f"{sandbox.url}/oauth/{regiondesk.slug}/install/?{urlencode(query)}",
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 400
    assert not AuthorizationRequest.objects.exists()
    assert _paths(sandbox) == [] and recorder.hits == 0


def test_other_install_parameters_cannot_set_a_host(sandbox, browser, regiondesk, recorder):
    params = {"api_host": recorder.host, "app_host": recorder.host, "region": "us"}
    response = flows.install(browser, sandbox, regiondesk.slug, params, consent_org="ws-42")
    assert response.status_code == 302
    assert Installation.objects.get().connection_config == {"region": "us"}
    assert recorder.hits == 0


@pytest.mark.parametrize(
    "forged",
    [
        {"region": "au"},
        {"region": "eu"},
        {"api_host": "RECORDER", "app_host": "RECORDER"},
        {"region": "au", "api_host": "RECORDER"},
    ],
)
def test_a_forged_region_or_host_on_the_callback_changes_nothing(
    sandbox, browser, regiondesk, recorder, forged
):
    start = browser.get(
        f"{sandbox.url}/oauth/{regiondesk.slug}/install/",
        params={"region": "us"},
        allow_redirects=False,
        timeout=10,
    )
    decision = consent(browser, start, org="ws-42")
    assert decision.status_code == 302
    extra = {k: v.replace("RECORDER", recorder.host) for k, v in forged.items()}
    callback = decision.headers["Location"] + "&" + urlencode(extra)
    response = browser.get(callback, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    installation = Installation.objects.get()
    assert installation.connection_config == {"region": "us"}
    assert {_region_of(p) for p in _paths(sandbox)} == {"us"}
    assert recorder.hits == 0


@pytest.mark.parametrize(
    "stored",
    [
        {"region": "mars"},
        {"region": "us", "api_host": "RECORDER"},
        {"api_host": "RECORDER"},
        {"region": ["us"]},
        ["us"],
    ],
)
def test_a_tampered_stored_config_is_refused_before_any_url(
    sandbox, browser, regiondesk, recorder, stored
):
    assert flows.install(browser, sandbox, regiondesk.slug, {}, consent_org="ws-42").status_code
    installation = Installation.objects.get()
    before = len(_paths(sandbox))
    tampered = (
        {
            k: v.replace("RECORDER", recorder.host) if isinstance(v, str) else v
            for k, v in stored.items()
        }
        if isinstance(stored, dict)
        else stored
    )
    Installation.objects.filter(pk=installation.pk).update(connection_config=tampered)
    installation.refresh_from_db()
    with pytest.raises(InvalidConnectionConfig):
        installation.api_session().get("tickets")
    assert len(_paths(sandbox)) == before and recorder.hits == 0


def test_the_replaced_grant_is_revoked_in_its_own_region(sandbox, browser, regiondesk, recorder):
    assert flows.install(browser, sandbox, regiondesk.slug, {"region": "eu"}, consent_org="ws-42")
    # Installed again in the US: the new grant lives there, the replaced EU grant is
    # queued for revocation with the EU hosts (not the installation's new ones).
    flows.install(browser, sandbox, regiondesk.slug, {"region": "us"}, consent_org="ws-42")
    installation = Installation.objects.get()
    assert installation.connection_config == {"region": "us"}
    pending = PendingRevocation.objects.get()
    assert pending.connection_config == {"region": "eu"}
    revoke_pending_token.apply((pending.pk,))
    revokes = sandbox.state.matching_requests(provider="regiondesk", endpoint="revoke")
    assert [(_region_of(r["path"]), r["status"]) for r in revokes] == [("eu", 204)]
    assert not PendingRevocation.objects.exists() and recorder.hits == 0


def test_endpoint_placeholders_come_only_from_the_validated_config(regiondesk):
    provider = get_provider("regiondesk")
    with pytest.raises(InvalidConnectionConfig):
        provider.endpoint("token_url", "", {"region": "us", "api_host": "evil.example"})
    with pytest.raises(InvalidConnectionConfig):
        provider.endpoint("token_url", "", {"region": "mars"})
    # Declared per region, substituted once: a value is never expanded again.
    assert "{" not in provider.endpoint("token_url", "", {"region": "eu"})
    gorgias = get_provider("gorgias")
    with pytest.raises(InvalidConnectionConfig):
        gorgias.endpoint("token_url", "acme", {"region": "eu"})  # no regions: no keys at all
    assert gorgias.connection_config_from_query({"region": "eu"}) == {}


def test_a_placeholder_without_a_value_is_a_configuration_error(settings, db):
    provider = get_provider("gorgias")
    overrides = {"token_url": "https://{tenant}.{cluster}.gorgias.test/oauth/token"}
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": {"gorgias": overrides}}
    with pytest.raises(ConfigurationError):
        provider.endpoint("token_url", "acme")
