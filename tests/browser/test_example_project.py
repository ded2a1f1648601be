"""The example project in a real browser: connect, consent, deny, uninstall, rotate a secret.

Each test uses its own tenant, so the tests share one server and still do not
depend on each other's order. Assertions are on what a user sees (Playwright's
``expect`` waits for the page to show it; nothing asserts on timing).
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.example_project]


@pytest.fixture
def expect() -> Any:
    from playwright.sync_api import expect

    return expect


def row(page: Any, app: str, tenant: str) -> Any:
    """The integrations-page table row of one installation."""
    return page.locator(f'tr[data-app="{app}"][data-tenant="{tenant}"]')


def connect(page: Any, app: str, tenant: str) -> None:
    """From the integrations page: type the tenant and click "Connect …"."""
    page.goto("/")
    card = page.locator(".card", has=page.locator(f"#tenant-{app}"))
    card.locator(f"#tenant-{app}").fill(tenant)
    card.get_by_role("button", name="Connect").click()


def install_gorgias(page: Any, expect: Any, tenant: str) -> None:
    connect(page, "gorgias-sandbox", tenant)
    page.get_by_role("button", name="Allow").click()
    expect(row(page, "gorgias-sandbox", tenant).locator(".badge")).to_have_text("active")


def test_connect_gorgias(page, expect, screenshot):
    page.goto("/")
    expect(page.get_by_role("heading", name="Integrations")).to_be_visible()
    # Full page: a card per provider (eight with the seed), nothing installed yet.
    screenshot(page, "integrations-page", full_page=True)
    connect(page, "gorgias-sandbox", "acme")

    # The sandbox's consent page for the account, with the requested scopes.
    expect(page.get_by_role("heading", name="Authorize Example Gorgias App")).to_be_visible()
    expect(page.locator("main")).to_contain_text("the Gorgias account acme")
    scopes = page.locator("ul.scopes li")
    expect(scopes).to_have_text(["openid", "email", "profile", "offline", "write:all"])
    screenshot(page, "sandbox-consent-gorgias")

    page.get_by_role("button", name="Allow").click()
    installation = row(page, "gorgias-sandbox", "acme")
    expect(installation.locator(".badge")).to_have_text("active")
    # Gorgias answers expires_in 0; the page shows the JWT's lifetime, not "expired".
    expect(installation.locator("td").nth(3)).to_contain_text("hours")
    expect(installation.locator("td").nth(3)).not_to_contain_text("expired")
    screenshot(page, "integrations-active")


def test_the_sandbox_follows_the_port_runserver_listens_on(page, expect, example_server):
    # No SANDBOX_BASE_URL and a port other than 8000: Connect goes to this server's sandbox.
    assert example_server.port != 8000
    connect(page, "gorgias-sandbox", "cyberdyne")
    expect(page.get_by_role("heading", name="Authorize Example Gorgias App")).to_be_visible()
    assert page.url.startswith(f"{example_server.url}/sandbox/gorgias/cyberdyne/oauth/authorize?")

    page.get_by_role("button", name="Allow").click()

    # The code exchange (server-side) reached the same server: installed.
    expect(row(page, "gorgias-sandbox", "cyberdyne").locator(".badge")).to_have_text("active")
    expect(page.locator(".messages")).to_have_text("Connected Example Gorgias App for cyberdyne.")


def test_refresh_now_and_uninstall_say_what_happened(page, expect, login):
    login(page)
    install_gorgias(page, expect, "tyrell")
    installation = row(page, "gorgias-sandbox", "tyrell")

    installation.get_by_role("button", name="Refresh now").click()
    expect(page.locator(".messages")).to_have_text(
        "Refreshed the token of Example Gorgias App for tyrell."
    )
    expect(installation.locator("td").nth(4)).not_to_have_text("—")  # last refresh

    installation.get_by_role("button", name="Uninstall").click()
    expect(page.locator(".messages")).to_have_text(
        "Uninstalled Example Gorgias App for tyrell: its tokens were revoked at the provider."
    )
    # A message is shown once.
    page.reload()
    expect(page.locator(".messages")).to_have_count(0)


def test_connect_kustomer_with_the_org_form(page, expect, screenshot):
    connect(page, "kustomer-sandbox", "globex")

    # The per-org endpoints (the default): the consent page is the org's own.
    expect(page.get_by_role("heading", name="Authorize Example Kustomer App")).to_be_visible()
    expect(page.locator("main")).to_contain_text("the Kustomer account globex")
    expect(page.locator("ul.scopes")).to_contain_text("offline_access")
    expect(page.get_by_label("Organization")).to_have_count(0)
    screenshot(page, "sandbox-consent-kustomer")
    page.get_by_role("button", name="Allow").click()

    expect(row(page, "kustomer-sandbox", "globex").locator(".badge")).to_have_text("active")


def test_kustomer_install_url_without_org_asks_for_it(page, expect, screenshot):
    page.goto("/helpdesk/kustomer-sandbox/install/")
    expect(
        page.get_by_role("heading", name="Connect Example Kustomer App to Kustomer")
    ).to_be_visible()
    screenshot(page, "install-ask-org")
    page.get_by_label("Your Kustomer organization name").fill("hooli")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("main")).to_contain_text("the Kustomer account hooli")
    page.get_by_role("button", name="Allow").click()

    expect(row(page, "kustomer-sandbox", "hooli").locator(".badge")).to_have_text("active")


def test_deny_shows_a_friendly_message(page, expect, screenshot):
    connect(page, "gorgias-sandbox", "initech")
    page.get_by_role("button", name="Deny").click()

    expect(page.get_by_role("heading", name="Installation not completed")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "The installation was cancelled: access was not granted."
    )
    expect(page.locator("main")).to_contain_text("Nothing was changed")
    screenshot(page, "deny")

    page.get_by_role("link", name="Back to your integrations").click()
    expect(page.get_by_role("heading", name="Integrations")).to_be_visible()
    expect(row(page, "gorgias-sandbox", "initech")).to_have_count(0)


def test_uninstall(page, expect, login, screenshot):
    login(page)
    install_gorgias(page, expect, "umbrella")
    installation = row(page, "gorgias-sandbox", "umbrella")

    installation.get_by_role("button", name="Uninstall").click()
    expect(installation.locator(".badge")).to_have_text("uninstalled")
    expect(installation.get_by_role("button", name="Uninstall")).to_have_count(0)
    expect(installation.get_by_role("link", name="Reconnect")).to_be_visible()
    screenshot(page, "integrations-uninstalled")


def test_uninstall_needs_a_signed_in_user(page, expect):
    install_gorgias(page, expect, "stark")
    # Anonymous visitors get no Uninstall button, and a hint how to sign in.
    uninstall = row(page, "gorgias-sandbox", "stark").get_by_role("button", name="Uninstall")
    expect(uninstall).to_have_count(0)
    expect(page.get_by_text("Uninstalling needs a staff user")).to_be_visible()


def test_staff_rotates_a_secret_in_the_admin(page, expect, login, screenshot):
    login(page, "/admin/")
    # A new app through the admin's create form: the secret is typed once.
    page.goto("/admin/helpdesk_oauth/providerapp/add/")
    page.fill("#id_slug", "gorgias-staging")
    page.select_option("#id_provider", "gorgias")
    page.fill("#id_name", "Staging Gorgias App")
    page.fill("#id_client_id", "staging-client")
    page.fill("#id_client_secret", "first-secret-kept-out-of-pages-A1b2")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    # Write-only: the change page shows the last four characters, never the secret.
    expect(page.locator("#content")).to_contain_text("A1b2")
    assert "first-secret-kept-out-of-pages" not in page.content()
    screenshot(page, "admin-providerapp-change", full_page=True)

    page.get_by_role("link", name="Rotate client secret").click()
    expect(
        page.get_by_role("heading", name="Rotate client secret of Staging Gorgias App")
    ).to_be_visible()
    page.fill("#id_new_secret", "second-secret-from-the-portal-Z9y8")
    screenshot(page, "admin-rotate-secret")
    page.click("input[type=submit][value='Rotate client secret']")

    expect(page.locator(".messagelist")).to_contain_text(
        "Client secret rotated; the new one ends in"
    )
    expect(page.locator(".messagelist")).to_contain_text("Z9y8")
    assert "second-secret-from-the-portal" not in page.content()


def test_admin_installation_list(page, expect, login, screenshot):
    install_gorgias(page, expect, "wayne")
    login(page, "/admin/helpdesk_oauth/installation/")
    wayne = page.locator("#result_list tr", has_text="wayne")
    expect(wayne).to_contain_text("active")
    screenshot(page, "admin-installation-list", full_page=True)


def test_staff_rotates_the_kustomer_secret_through_the_apps_api(page, expect, login, screenshot):
    login(page, "/admin/helpdesk_oauth/providerapp/")
    page.get_by_role("link", name="kustomer-sandbox").click()
    page.get_by_role("link", name="Rotate client secret").click()
    # Kustomer generates the secret: staff type an admin API key, used once and not stored.
    page.fill("#id_api_key", "demo-kustomer-admin-key")
    screenshot(page, "admin-rotate-kustomer")
    page.click("input[type=submit][value='Rotate client secret']")
    expect(page.locator(".messagelist")).to_contain_text(
        "Client secret rotated; the new one ends in"
    )
    assert "demo-kustomer-admin-key" not in page.content()
    assert "demo-kustomer-secret-sandbox-only" not in page.content()
    # The new secret works: a Kustomer install goes through.
    connect(page, "kustomer-sandbox", "oscorp")
    # Per-org endpoints (the default): the consent page is oscorp's own, no org to type.
    page.get_by_role("button", name="Allow").click()
    expect(row(page, "kustomer-sandbox", "oscorp").locator(".badge")).to_have_text("active")


def test_connect_zendesk_through_its_subdomain_form(page, expect, screenshot):
    # The install URL without ?subdomain= (a link from elsewhere): the package asks for it.
    page.goto("/helpdesk/zendesk-sandbox/install/")
    expect(
        page.get_by_role("heading", name="Connect Example Zendesk App to Zendesk")
    ).to_be_visible()
    screenshot(page, "install-ask-subdomain-zendesk")
    page.get_by_label("Your Zendesk subdomain").fill("globex")
    page.get_by_role("button", name="Continue").click()

    # The subdomain's own consent page (per-subdomain endpoints): nothing more to type.
    expect(page.get_by_role("heading", name="Authorize Example Zendesk App")).to_be_visible()
    expect(page.locator("main")).to_contain_text("the Zendesk account globex")
    expect(page.get_by_label("Organization")).to_have_count(0)
    screenshot(page, "sandbox-consent-zendesk")
    page.get_by_role("button", name="Allow").click()

    installation = row(page, "zendesk-sandbox", "globex")
    expect(installation.locator(".badge")).to_have_text("active")
    # 30-minute access tokens (expires_in requested on the exchange).
    expect(installation.locator("td").nth(3)).to_contain_text("minutes")
    expect(installation.locator("td").nth(3)).not_to_contain_text("expired")


def test_connect_hubspot_learns_the_hub_after_the_exchange(page, expect, screenshot):
    page.goto("/")
    card = page.locator(".card", has=page.get_by_role("button", name="Connect HubSpot"))
    # No tenant to type: HubSpot's install URL takes none.
    expect(card.locator("input[type=text]")).to_have_count(0)
    expect(card).to_contain_text("learned after consent")
    card.get_by_role("button", name="Connect HubSpot").click()

    # HubSpot's global consent page: the user picks the account (hub) there.
    expect(page.get_by_role("heading", name="Authorize Example HubSpot App")).to_be_visible()
    page.get_by_label("Organization").fill("2450981")
    screenshot(page, "sandbox-consent-hubspot")
    page.get_by_role("button", name="Allow").click()

    # Back on the page, the installation is the hub id the provider reported.
    installation = row(page, "hubspot-sandbox", "2450981")
    expect(installation.locator(".badge")).to_have_text("active")
    expect(installation.locator("td").nth(1)).to_have_text("2450981")
    expect(installation.locator("td").nth(3)).to_contain_text("minutes")
    screenshot(page, "integrations-hubspot-active", full_page=True)


def test_intercom_offers_its_regions_and_never_expires(page, expect):
    page.goto("/")
    card = page.locator(".card", has=page.get_by_role("button", name="Connect Intercom"))
    expect(card.get_by_label("Region")).to_have_value("us")
    card.get_by_label("Region").select_option("au")
    card.get_by_role("button", name="Connect Intercom").click()
    expect(page.get_by_role("heading", name="Authorize Example Intercom App")).to_be_visible()
    page.get_by_label("Organization").fill("wonka")
    page.get_by_role("button", name="Allow").click()

    installation = row(page, "intercom-sandbox", "wonka")
    expect(installation.locator(".badge")).to_have_text("active")
    # The region chosen on the card is the installation's (its hosts are Intercom's AU ones).
    expect(installation.locator("td").nth(1)).to_have_text("wonka · region au")
    expect(installation.locator("td").nth(3)).to_have_text("never expires")
