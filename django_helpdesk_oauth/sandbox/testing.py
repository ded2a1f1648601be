"""Drive a sandbox consent page like a browser, with a ``requests.Session``.

::

    session = requests.Session()
    response = session.get(install_url)          # follows the redirects to the consent page
    callback = consent(session, response)        # clicks Allow; the 302 back to the client
    session.get(callback.headers["Location"])    # the client's callback
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import requests

CONSENT_FORM_ID = "consent-form"


class ConsentPageError(AssertionError):
    """The page is not a sandbox consent page (an error page, or the wrong URL)."""


class _ConsentFormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_form = False
        self.found = False
        self.action: str | None = None
        self.tenant = ""
        self.fields: dict[str, str] = {}
        self.decisions: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and attributes.get("id") == CONSENT_FORM_ID:
            self.in_form = self.found = True
            self.action = attributes.get("action", "")
            self.tenant = attributes.get("data-tenant", "")
        elif self.in_form and tag == "input" and attributes.get("name"):
            if attributes.get("type", "text") in ("hidden", "text"):
                self.fields[attributes["name"]] = attributes.get("value", "")
        elif self.in_form and tag == "button" and attributes.get("name") == "decision":
            self.decisions.add(attributes.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False


def consent_form(html: str) -> dict[str, Any]:
    """A sandbox consent form: ``action``, ``tenant``, ``fields`` (inputs), ``decisions``.

    Raises :class:`ConsentPageError` if ``html`` has no consent form. Useful with
    Django's test client, where :func:`consent` (which needs ``requests``) does not fit.
    """
    parser = _ConsentFormParser()
    parser.feed(html)
    parser.close()
    if not parser.found:
        raise ConsentPageError("no consent form in this page")
    return {
        "action": parser.action,
        "tenant": parser.tenant or None,
        "fields": dict(parser.fields),
        "decisions": parser.decisions,
    }


def consent(
    session: requests.Session,
    response_or_url: requests.Response | str,
    allow: bool = True,
    org: str | None = None,
    timeout: float = 10,
) -> requests.Response:
    """Submit the consent form, clicking Allow (or Deny), and return the provider's 302.

    ``response_or_url`` is the consent page's response (a 3xx response, such as
    the client's install redirect, is followed first) or a URL to GET with
    ``session``. ``org`` fills Kustomer's "Organization" field on the global
    endpoint; on a page for a fixed tenant it must equal that tenant. The final
    redirect is not followed: read ``Location`` of the returned response.
    Raises :class:`ConsentPageError` if the page has no consent form.
    """
    if isinstance(response_or_url, str):
        page = session.get(response_or_url, timeout=timeout)
    else:
        page = response_or_url
        if page.is_redirect and page.headers.get("Location"):
            page = session.get(urljoin(page.url, page.headers["Location"]), timeout=timeout)
    try:
        form = consent_form(page.text)
    except ConsentPageError:
        raise ConsentPageError(f"no consent form at {page.url} (HTTP {page.status_code})") from None
    data: dict[str, Any] = dict(form["fields"])
    if org is not None:
        if "org" in data:
            data["org"] = org
        elif form["tenant"] != org:
            # A per-org page has its tenant in the URL already; a different org is a test bug.
            raise ConsentPageError(f"this consent page is for {form['tenant']!r}, not {org!r}")
    data["decision"] = "allow" if allow else "deny"
    return session.post(
        urljoin(page.url, form["action"] or ""), data=data, allow_redirects=False, timeout=timeout
    )
