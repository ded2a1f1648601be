"""docs/providers/index.md's v2 table, checked against the provider definitions.

The table is written by hand (its cells carry the providers' own words, sources and
caveats) and checked here: one row per built-in provider, one column per concern of
DESIGN.md's "Provider model v2" table, and every cell that states a declared fact
(client authentication, token body, tenant before/after the exchange, lifetime or
"never expires", rotation, scopes, API auth, revocation, regions, deauthorize, error
aliases) agreeing with the provider's class attributes. The definition is the truth:
a disagreeing cell is a documentation bug.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

from django_helpdesk_oauth import providers
from django_helpdesk_oauth.providers import registry
from django_helpdesk_oauth.providers.base import Provider

DOCS = Path(__file__).resolve().parent.parent / "docs" / "providers"
INDEX = DOCS / "index.md"
HEADING = "## Provider model v2"
COLUMNS = [
    "provider",
    "tenant",
    "hosts",
    "client auth",
    "token body",
    "access-token lifetime",
    "refresh-token rotation",
    "scopes",
    "API auth",
    "revocation",
    "provider-initiated uninstall",
    "error answers",
]
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
_CODE = re.compile(r"`([^`]+)`")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def builtin_providers() -> dict[str, type[Provider]]:
    """Every provider class defined in ``django_helpdesk_oauth/providers/``, by key."""
    found: dict[str, type[Provider]] = {}
    for module_info in pkgutil.iter_modules(providers.__path__):
        module = importlib.import_module(f"{providers.__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Provider) and cls.__module__ == module.__name__ and cls.key:
                found[cls.key] = cls
    return found


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of the first table after :data:`HEADING`; a ``\\|``
    inside a cell is a literal ``|``."""
    lines = text.split(HEADING, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(line.strip())[1:-1]]
        table.append(cells)
    header, rule, *rows = table
    assert all(set(c) <= set("-: ") for c in rule), rule
    return header, rows


def rows_by_key(text: str) -> dict[str, list[dict[str, str]]]:
    """Rows keyed by the provider page they link (``[Zendesk](zendesk.md)`` → ``zendesk``)."""
    header, rows = parse_table(text)
    keyed: dict[str, list[dict[str, str]]] = {}
    for cells in rows:
        row = dict(zip(header, cells, strict=True))
        link = _LINK.fullmatch(row["provider"])
        key = link.group(2).removesuffix(".md") if link else row["provider"]
        keyed.setdefault(key, []).append(row)
    return keyed


def _durations(seconds: int) -> set[str]:
    """The ways a cell may state a lifetime of ``seconds``."""
    forms = {str(seconds), f"{seconds:,}"}
    if seconds % 60 == 0:
        forms.add(f"{seconds // 60} min")
    if seconds % 3600 == 0:
        forms.add(f"{seconds // 3600} h")
    if seconds % 86400 == 0:
        days = seconds // 86400
        forms.add(f"{days} day" if days == 1 else f"{days} days")
    return forms


def _host(template: str) -> str:
    """The host part of an endpoint template (placeholders kept)."""
    return re.sub(r"^[a-z]+://", "", template).split("/", 1)[0]


def _path(template: str) -> str:
    """The path of an endpoint template, whatever its host is (``{accounts_server}/x`` too)."""
    rest = re.sub(r"^[a-z]+://", "", template)
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


def _first_word(cell: str) -> str:
    return re.split(r"[\s(:;,]", cell.strip().strip("*"), maxsplit=1)[0].lower()


def row_problems(cls: type[Provider], row: dict[str, str]) -> list[str]:
    """Every cell of ``row`` that disagrees with ``cls``'s declaration, as messages."""
    problems: list[str] = []

    def expect(ok: bool, column: str, what: str) -> None:
        if not ok:
            problems.append(f"{cls.key} / {column}: {what} (cell: {row[column]!r})")

    link = _LINK.fullmatch(row["provider"])
    expect(
        bool(link) and link.group(1) == cls.name and link.group(2) == f"{cls.key}.md",
        "provider",
        f"must be [{cls.name}]({cls.key}.md)",
    )
    expect((DOCS / f"{cls.key}.md").exists(), "provider", "the linked page must exist")

    # tenant: before the flow (install parameters, the form) or after the exchange.
    cell = row["tenant"]
    if cls.tenant_after_exchange:
        expect("after the exchange" in cell, "tenant", "says the tenant comes after the exchange")
        if cls.tenant_response_field:
            expect(
                f"`{cls.tenant_response_field}`" in cell,
                "tenant",
                f"names the token response's `{cls.tenant_response_field}`",
            )
        identity = cls.endpoints.get("identity_url")
        if identity:
            expect(_path(identity) in cell, "tenant", f"names {_path(identity)}")
    else:
        expect("after the exchange" not in cell, "tenant", "the tenant is known before the flow")
        for param in cls.tenant_params:
            expect(f"?{param}=" in cell, "tenant", f"names the install parameter ?{param}=")
        expect(("form" in cell) == cls.ask_for_tenant, "tenant", "a form asks iff ask_for_tenant")

    # hosts: the default hosts, and the region choice where there are regions.
    cell = row["hosts"]
    defaults = dict(cls.regions.get(cls.default_region, {}))
    for name in ("authorize_url", "api_base_url"):
        host = _host(cls.endpoints.get(name, ""))
        for placeholder, value in defaults.items():
            host = host.replace(f"{{{placeholder}}}", _host(value))
        expect(host in cell, "hosts", f"names the {name} host {host}")
    if cls.regions:
        listed = re.search(rf"\?{re.escape(cls.region_param)}=([a-z0-9|]+)", cell)
        expect(
            bool(listed) and set(listed.group(1).split("|")) == set(cls.regions),
            "hosts",
            f"lists ?{cls.region_param}={'|'.join(cls.regions)}",
        )
        expect(
            f"default `{cls.default_region}`" in cell,
            "hosts",
            f"names the default region `{cls.default_region}`",
        )
    else:
        expect("?region=" not in cell, "hosts", "no regions are declared")
    if cls.callback_region:
        param = cls.callback_region[0]
        expect(f"`{param}`" in cell, "hosts", f"names the callback's `{param}`")
    for member in cls.token_region_fields:
        expect(f"`{member}`" in cell, "hosts", f"names the token answer's `{member}`")

    # client authentication, under RFC 7591's name.
    cell = row["client auth"]
    other = {"client_secret_basic": "client_secret_post"}.get(
        cls.client_auth, "client_secret_basic"
    )
    expect(
        f"`{cls.client_auth}`" in cell and other not in cell,
        "client auth",
        f"says `{cls.client_auth}`",
    )

    expect(
        _first_word(row["token body"]) == cls.token_request_format,
        "token body",
        f"starts with {cls.token_request_format}",
    )

    # access-token lifetime.
    cell = row["access-token lifetime"]
    if not cls.access_tokens_expire:
        expect("never expires" in cell, "access-token lifetime", "says never expires")
    else:
        expect("never" not in cell, "access-token lifetime", "the tokens expire")
        expect(
            any(form in cell for form in _durations(cls.fallback_lifetime)),
            "access-token lifetime",
            f"states the documented {cls.fallback_lifetime} s",
        )
    requested = cls.token_params.get("expires_in")
    if requested is not None:
        expect(
            f"`expires_in: {requested}`" in cell,
            "access-token lifetime",
            f"says `expires_in: {requested}` is requested",
        )

    # refresh-token rotation ("—" only where there is no refresh token at all).
    cell = row["refresh-token rotation"]
    if not cls.access_tokens_expire and cell == "—":
        pass
    else:
        expect(
            _first_word(cell) == cls.refresh_token_rotation,
            "refresh-token rotation",
            f"starts with {cls.refresh_token_rotation}",
        )

    # scopes: the separator, or none.
    word = {" ": "space", ",": "comma"}.get(cls.scope_delimiter, repr(cls.scope_delimiter))
    expect(
        _first_word(row["scopes"]) == (word if cls.scopes_supported else "none"),
        "scopes",
        f"starts with {word if cls.scopes_supported else 'none'}",
    )

    # API auth: the scheme and the extra headers, nothing else in code.
    expect(
        set(_CODE.findall(row["API auth"])) == {cls.api_auth_scheme, *cls.api_headers},
        "API auth",
        f"names `{cls.api_auth_scheme}` and the headers {sorted(cls.api_headers)}",
    )

    # revocation: the declared strategy where a revoke_url is declared, else none.
    cell = row["revocation"]
    revocation = cls.revocation
    revoke_url = cls.endpoints.get("revoke_url", "")
    if revocation.style == "none" or not revoke_url:
        expect(_first_word(cell) == "none", "revocation", "starts with none")
        # A strategy the class itself declares (Front), not the base's default (Kustomer).
        if revocation.style == "rfc7009" and "revocation" in vars(cls):
            expect("RFC 7009" in cell, "revocation", "says RFC 7009 once a revoke_url is set")
    else:
        expect(revocation.method in cell, "revocation", f"names {revocation.method}")
        expect(_path(revoke_url) in cell, "revocation", f"names {_path(revoke_url)}")
        if revocation.style == "rfc7009":
            expect("RFC 7009" in cell, "revocation", "says RFC 7009")
        if revocation.style == "bearer":
            expect("access token" in cell or "Bearer" in cell, "revocation", "the access token")
        else:
            kind = revocation.token.replace("_", " ")
            expect(kind in cell, "revocation", f"names the {kind}")
        expect(
            ("uninstall only" in cell) == revocation.ends_installation,
            "revocation",
            "says 'uninstall only' iff the call ends the installation",
        )

    # provider-initiated uninstall.
    cell = row["provider-initiated uninstall"]
    signature = cls.deauthorize
    if signature is None:
        expect(_first_word(cell) == "none", "provider-initiated uninstall", "starts with none")
    else:
        expect(
            f"`{signature.header}`" in cell and f"HMAC-{signature.algorithm.upper()}" in cell,
            "provider-initiated uninstall",
            f"names `{signature.header}` and HMAC-{signature.algorithm.upper()}",
        )

    # error answers: RFC 6749, plus the provider's own members.
    cell = row["error answers"]
    expect(cell.startswith("RFC 6749"), "error answers", "starts with RFC 6749")
    for member, aliases in cls.error_code_aliases.items():
        expect(f"`{member}`" in cell, "error answers", f"names `{member}`")
        for value, code in aliases.items():
            expect(f"`{value}` → `{code}`" in cell, "error answers", f"says `{value}` → `{code}`")
    if not cls.error_code_aliases:
        expect("→" not in cell, "error answers", "no aliases are declared")
    return problems


BUILTIN = builtin_providers()


def test_the_table_has_one_column_per_concern():
    header, _ = parse_table(INDEX.read_text())
    assert header == COLUMNS


def test_every_builtin_provider_is_registered():
    assert set(BUILTIN) <= set(registry)
    assert {key for key in BUILTIN} == {
        "gorgias",
        "kustomer",
        "zendesk",
        "hubspot",
        "intercom",
        "front",
        "helpscout",
        "zoho_desk",
    }


def test_one_row_per_provider_and_no_other():
    rows = rows_by_key(INDEX.read_text())
    assert sorted(rows) == sorted(BUILTIN)
    assert {key: len(found) for key, found in rows.items()} == dict.fromkeys(rows, 1)


@pytest.mark.parametrize("key", sorted(BUILTIN))
def test_the_row_agrees_with_the_definition(key):
    [row] = rows_by_key(INDEX.read_text())[key]
    assert row_problems(BUILTIN[key], row) == []


# The checker itself: a cell changed to contradict the definition is caught.
@pytest.mark.parametrize(
    ("key", "column", "old", "new"),
    [
        ("front", "client auth", "client_secret_basic", "client_secret_post"),
        ("zendesk", "token body", "JSON", "form"),
        ("hubspot", "tenant", "after the exchange", "before the flow"),
        ("intercom", "access-token lifetime", "never expires", "1 h"),
        ("kustomer", "refresh-token rotation", "always", "never"),
        ("zoho_desk", "scopes", "comma", "space"),
        ("zoho_desk", "API auth", "`orgId`", "`X-Org`"),
        ("zendesk", "revocation", "DELETE", "POST"),
        ("intercom", "hosts", "us|eu|au", "us|eu"),
        ("intercom", "provider-initiated uninstall", "HMAC-SHA1", "HMAC-SHA256"),
        ("hubspot", "error answers", "`BAD_REFRESH_TOKEN` → `invalid_grant`", "`status`"),
    ],
)
def test_a_cell_contradicting_the_definition_is_caught(key, column, old, new):
    [row] = rows_by_key(INDEX.read_text())[key]
    assert old in row[column]
    wrong = {**row, column: row[column].replace(old, new)}
    problems = row_problems(BUILTIN[key], wrong)
    assert problems and all(p.startswith(f"{key} / {column}:") for p in problems)
