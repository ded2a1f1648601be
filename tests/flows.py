"""Driving the install flow over real HTTP, as a browser would."""

from __future__ import annotations

import requests

from django_helpdesk_oauth.sandbox.testing import consent


def install(
    browser: requests.Session,
    sandbox,
    slug: str,
    params: dict[str, str],
    *,
    allow: bool = True,
    consent_org: str | None = None,
) -> requests.Response:
    """Install → consent page → Allow/Deny → callback; return the callback's response."""
    start = browser.get(
        f"{sandbox.url}/oauth/{slug}/install/", params=params, allow_redirects=False, timeout=10
    )
    assert start.status_code == 302, start.text
    decision = consent(browser, start, allow=allow, org=consent_org)
    assert decision.status_code == 302, decision.text
    return browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
