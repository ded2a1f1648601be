"""Admin: pages render without secrets; rotation (API and paste); grace window; actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth.models import Installation, ProviderApp, Token
from django_helpdesk_oauth.services import RefreshFailed, refresh_installation
from django_helpdesk_oauth.services.secrets import register_app, set_client_secret

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN_KEY = "kustomer-admin-key"


def secrets_of(*apps) -> set[str]:
    values = set()
    for app in apps:
        app.refresh_from_db()
        values |= {app.client_secret, app.previous_client_secret}
    for token in Token.objects.all():
        values |= {token.access_token, token.refresh_token}
    return {v for v in values if v}


def assert_no_secret(response, secrets):
    body = response.content.decode()
    for secret in secrets:
        assert secret not in body
        assert secret[:-4] not in body  # not even all but the last four


def make_due():
    Token.objects.update(expires_at=timezone.now())


def test_pages_render_without_secrets(admin_client, sandbox, installed, gorgias_app, kustomer_app):
    installation = installed(gorgias_app)
    installed(kustomer_app)
    secrets = secrets_of(gorgias_app, kustomer_app)
    pages = [
        reverse("admin:helpdesk_oauth_providerapp_changelist"),
        reverse("admin:helpdesk_oauth_providerapp_add"),
        reverse("admin:helpdesk_oauth_providerapp_change", args=[gorgias_app.pk]),
        reverse("admin:helpdesk_oauth_providerapp_rotate", args=[gorgias_app.pk]),
        reverse("admin:helpdesk_oauth_providerapp_rotate", args=[kustomer_app.pk]),
        reverse("admin:helpdesk_oauth_installation_changelist"),
        reverse("admin:helpdesk_oauth_installation_change", args=[installation.pk]),
        reverse("admin:helpdesk_oauth_pendingrevocation_changelist"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_no_secret(response, secrets)
    change = admin_client.get(pages[2]).content.decode()
    assert "••••" + gorgias_app.client_secret[-4:] in change
    assert "Rotate client secret" in change


def test_create_form_stores_the_secret_encrypted(admin_client, db):
    response = admin_client.post(
        reverse("admin:helpdesk_oauth_providerapp_add"),
        {
            "slug": "new-app",
            "provider": "gorgias",
            "name": "New",
            "client_id": "cid",
            "client_secret": "typed-once-secret-9876",
            "scopes": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    assert ProviderApp.objects.get(slug="new-app").client_secret == "typed-once-secret-9876"


def test_create_form_refuses_a_secret_with_spaces(admin_client, db):
    response = admin_client.post(
        reverse("admin:helpdesk_oauth_providerapp_add"),
        {"slug": "x", "provider": "gorgias", "client_id": "c", "client_secret": "two words"},
    )
    assert response.status_code == 200
    assert "contains whitespace" in response.content.decode()
    assert "two words" not in response.content.decode()
    assert not ProviderApp.objects.filter(slug="x").exists()


def test_the_change_form_cannot_change_or_show_the_secret(admin_client, gorgias_app):
    url = reverse("admin:helpdesk_oauth_providerapp_change", args=[gorgias_app.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="client_secret"' not in page
    admin_client.post(
        url,
        {
            "name": "Renamed",
            "client_id": gorgias_app.client_id,
            "scopes": "",
            "enabled": "on",
            "provider_app_name": "",
            "client_secret": "sneaky",
        },
    )
    gorgias_app.refresh_from_db()
    assert gorgias_app.name == "Renamed" and gorgias_app.client_secret != "sneaky"


def test_kustomer_rotation_through_the_apps_api(admin_client, sandbox, installed):
    app = register_app(
        provider_key="kustomer", slug="kust", name="myapp", title="My App", api_key=ADMIN_KEY
    )
    installation = installed(app)
    old = app.client_secret
    url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[app.pk])
    response = admin_client.post(url, {"api_key": ADMIN_KEY}, follow=True)
    assert response.status_code == 200
    app.refresh_from_db()
    assert app.client_secret != old and app.previous_client_secret == old
    assert f"ends in ••••{app.client_secret[-4:]}" in response.content.decode()
    assert_no_secret(response, {app.client_secret, old, ADMIN_KEY})
    assert LogEntry.objects.filter(object_id=str(app.pk)).exists()
    # The next token call uses the new secret, and the provider accepts it.
    make_due()
    refresh_installation(installation.pk)
    [refresh] = sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    assert refresh["status"] == 200


def test_kustomer_rotation_with_a_weak_key_changes_nothing(admin_client, sandbox):
    app = register_app(
        provider_key="kustomer", slug="kust", name="myapp", title="My App", api_key=ADMIN_KEY
    )
    old = app.client_secret
    url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[app.pk])
    response = admin_client.post(url, {"api_key": "kustomer-weak-key"})
    assert response.status_code == 200
    assert "refused the API key" in response.content.decode()
    app.refresh_from_db()
    assert app.client_secret == old


def test_gorgias_paste_rotation(admin_client, sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    new = "pasted-from-the-portal-4321"
    sandbox.state.set_client_secret("gorgias", gorgias_app.client_id, new)  # regenerated there
    url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[gorgias_app.pk])
    response = admin_client.post(url, {"new_secret": new}, follow=True)
    assert "ends in ••••4321" in response.content.decode()
    gorgias_app.refresh_from_db()
    assert gorgias_app.client_secret == new
    make_due()
    refresh_installation(installation.pk)
    statuses = [
        r["status"]
        for r in sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    ]
    assert statuses == [200]


def test_empty_paste_is_refused(admin_client, gorgias_app):
    url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[gorgias_app.pk])
    response = admin_client.post(url, {"new_secret": "   "})
    assert response.status_code == 200
    gorgias_app.refresh_from_db()
    assert gorgias_app.previous_client_secret == ""


def test_grace_window_falls_back_to_the_previous_secret(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    # Rotated here first, before the provider knows the new secret (the wrong order).
    gorgias_app = set_client_secret(gorgias_app, "not-yet-active-at-the-provider-1111")
    make_due()
    assert str(refresh_installation(installation.pk)) == "refreshed"
    statuses = [
        r["status"]
        for r in sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    ]
    assert statuses == [400, 200]
    # After the window the previous secret is no longer used, nor kept.
    ProviderApp.objects.update(secret_rotated_at=timezone.now() - timedelta(days=2))
    make_due()
    with pytest.raises(RefreshFailed):
        refresh_installation(installation.pk)
    assert Installation.objects.get().status == "active"  # invalid_client marks nothing
    from django_helpdesk_oauth.services.secrets import expire_previous_secrets

    assert expire_previous_secrets() == 1
    assert ProviderApp.objects.get().previous_client_secret == ""


def test_installation_actions(admin_client, sandbox, installed, gorgias_app, kustomer_app):
    gorgias = installed(gorgias_app)
    kustomer = installed(kustomer_app)
    changelist = reverse("admin:helpdesk_oauth_installation_changelist")
    response = admin_client.post(
        changelist,
        {"action": "refresh_now", "_selected_action": [gorgias.pk, kustomer.pk]},
        follow=True,
    )
    assert "2 tokens refreshed." in response.content.decode()
    assert Token.objects.filter(refresh_count=1).count() == 2
    response = admin_client.post(
        changelist,
        {"action": "uninstall_selected", "_selected_action": [gorgias.pk], "post": "yes"},
        follow=True,
    )
    assert "1 installation uninstalled (1 revoked at the provider)." in response.content.decode()
    assert Installation.objects.get(pk=gorgias.pk).status == "uninstalled"
    assert Installation.objects.get(pk=kustomer.pk).status == "active"


def test_installation_filters_and_search(admin_client, sandbox, installed, gorgias_app):
    installed(gorgias_app)
    changelist = reverse("admin:helpdesk_oauth_installation_changelist")
    assert "acme" in admin_client.get(changelist, {"q": "acm"}).content.decode()
    assert (
        admin_client.get(changelist, {"status__exact": "needs_reauth"}).context["cl"].result_count
        == 0
    )
    assert admin_client.get(changelist, {"status__exact": "active"}).context["cl"].result_count == 1


def revocations(sandbox):
    return sandbox.state.matching_requests(endpoint="revoke")


def test_bulk_uninstall_asks_first(admin_client, sandbox, installed, gorgias_app, kustomer_app):
    gorgias = installed(gorgias_app)
    kustomer = installed(kustomer_app, "globex")
    changelist = reverse("admin:helpdesk_oauth_installation_changelist")
    selected = {"action": "uninstall_selected", "_selected_action": [gorgias.pk, kustomer.pk]}
    before = list(Token.objects.order_by("pk").values())
    response = admin_client.post(changelist, selected)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Uninstall 2 installations?" in page and "cannot be undone" in page
    assert "acme (Test Gorgias App)" in page and "globex (Test Kustomer App)" in page
    assert 'name="post" value="yes"' in page
    assert 'name="action" value="uninstall_selected"' in page
    for pk in (gorgias.pk, kustomer.pk):
        assert f'name="_selected_action" value="{pk}"' in page
    # Nothing happened yet: no revocation sent, tokens and statuses as they were.
    assert set(Installation.objects.values_list("status", flat=True)) == {"active"}
    assert list(Token.objects.order_by("pk").values()) == before
    assert revocations(sandbox) == []
    response = admin_client.post(changelist, {**selected, "post": "yes"}, follow=True)
    # Gorgias revokes (RFC 7009); Kustomer has no revocation endpoint.
    assert "2 installations uninstalled (1 revoked at the provider)." in response.content.decode()
    assert [r["provider"] for r in revocations(sandbox)] == ["gorgias"]
    assert set(Installation.objects.values_list("status", flat=True)) == {"uninstalled"}
    assert not Token.objects.exists()


def test_installation_change_page_is_read_only(admin_client, sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    url = reverse("admin:helpdesk_oauth_installation_change", args=[installation.pk])
    page = admin_client.get(url).content.decode()
    for button in ('name="_save"', 'name="_continue"', 'name="_addanother"'):
        assert button not in page
    assert "acme" in page and "Delete" in page  # shown, and still deletable (revokes)
    # A POST changes nothing.
    response = admin_client.post(url, {"tenant": "other", "status": "uninstalled"})
    assert response.status_code == 403
    assert Installation.objects.get().tenant == "acme"
    assert Installation.objects.get().status == "active"
    # The list's actions keep working.
    response = admin_client.post(
        reverse("admin:helpdesk_oauth_installation_changelist"),
        {"action": "refresh_now", "_selected_action": [installation.pk]},
        follow=True,
    )
    assert "1 token refreshed." in response.content.decode()


def test_change_page_shows_what_to_give_the_provider(admin_client, gorgias_app, settings):
    url = reverse("admin:helpdesk_oauth_providerapp_change", args=[gorgias_app.pk])
    page = admin_client.get(url).content.decode()
    assert 'value="http://testserver/oauth/gorgias/callback/"' in page
    assert 'value="http://testserver/oauth/gorgias/install/"' in page
    assert page.count('readonly value="http://testserver/oauth/gorgias/') == 2
    assert 'onfocus="this.select()"' in page and ">Copy</button>" in page
    assert "<script src" not in page.split('id="provider-links"')[1].split("</fieldset>")[0]
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "REDIRECT_BASE_URL": "https://app.example",
    }
    page = admin_client.get(url).content.decode()
    assert 'value="https://app.example/oauth/gorgias/callback/"' in page
    assert 'value="https://app.example/oauth/gorgias/install/"' in page


def test_change_page_without_the_package_urls(admin_client, gorgias_app, settings):
    url = reverse("admin:helpdesk_oauth_providerapp_change", args=[gorgias_app.pk])
    settings.ROOT_URLCONF = "tests.commands.urls_without_package"
    page = admin_client.get(url).content.decode()
    assert 'include("django_helpdesk_oauth.urls")' in page.replace("&quot;", '"')
    assert "/callback/" not in page


def test_default_display_name(admin_client, db):
    add = reverse("admin:helpdesk_oauth_providerapp_add")
    base = {"provider": "gorgias", "client_id": "c", "client_secret": "s3cret-1", "enabled": "on"}
    assert admin_client.post(add, {**base, "slug": "gorgias"}).status_code == 302
    assert admin_client.post(add, {**base, "slug": "shop"}).status_code == 302
    names = dict(ProviderApp.objects.values_list("slug", "name"))
    assert names == {"gorgias": "Gorgias", "shop": "Gorgias (shop)"}


def test_refresh_action_shows_a_rejected_secret(admin_client, sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    set_client_secret(gorgias_app, "unknown-to-the-provider-6666")
    response = admin_client.post(
        reverse("admin:helpdesk_oauth_installation_changelist"),
        {"action": "refresh_now", "_selected_action": [installation.pk]},
        follow=True,
    )
    shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert ("success", "1 token refreshed.") in shown  # through the previous secret
    [(level, text)] = [m for m in shown if "Provider app gorgias" in m[1]]
    assert level == "error"
    assert "The current client secret was rejected (invalid_client)" in text
    assert "••••6666" not in text and "unknown-to-the-provider" not in text
