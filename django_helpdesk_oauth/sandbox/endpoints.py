"""Where the sandbox providers live, in the shape of ``HELPDESK_OAUTH["PROVIDERS"]``.

Built from the profiles: every path of a profile is a template below
``{base}/{key}/`` (see :mod:`.profile`).
"""

from __future__ import annotations

from typing import Any

from . import profiles
from .profile import Profile

KUSTOMER_ENDPOINT_SETS = ("seed", "per_org")


def _auth_server_name(profile: Profile, chosen: str | None) -> str:
    name = chosen or profile.default_auth_server
    if name not in profile.auth_servers:
        raise ValueError(
            f"{profile.key} must be one of {tuple(profile.auth_servers)}, not {chosen!r}"
        )
    return name


def profile_settings(base_url: str, profile: Profile, auth_server: str | None = None) -> dict:
    """One provider's endpoint templates (``authorize_url``, ``token_url``, and where the
    profile has them ``revoke_url``, ``identity_url``, ``api_base_url``)."""
    root = f"{base_url.rstrip('/')}/{profile.key}"
    server = profile.auth_servers[_auth_server_name(profile, auth_server)]
    urls: dict[str, Any] = {
        "authorize_url": f"{root}/{server.authorize}",
        "token_url": f"{root}/{server.token}",
    }
    if profile.revocation.kind != "none":
        urls["revoke_url"] = f"{root}/{profile.revocation.path}"
    urls["api_base_url"] = f"{root}/{profile.api.base}"
    if profile.identity is not None and profile.identity.advertise:
        urls["identity_url"] = f"{root}/{profile.api.base}{profile.identity.path}"
    urls.update({name: f"{root}/{path}" for name, path in profile.extra_settings})
    return urls


def provider_settings(
    base_url: str, kustomer: str = "per_org", **auth_servers: str
) -> dict[str, dict[str, Any]]:
    """``HELPDESK_OAUTH["PROVIDERS"]`` pointing at a sandbox served at ``base_url``.

    ``base_url`` includes the mount prefix, e.g. ``http://127.0.0.1:8123/sandbox``.
    ``kustomer`` picks Kustomer's endpoint set: ``"per_org"`` (the default, like the
    provider's: the current docs' ``{tenant}.kustomerapp.com`` /
    ``{tenant}.api.kustomerapp.com``) or ``"seed"`` (the tutorial's global
    ``api.apps.kustomerapp.com`` endpoints, where the consent page asks for the
    org); ``<key>=<set>`` does the same for any profile with several. The literal
    ``{tenant}`` stays in the URLs for the client to substitute. Covers every
    served profile (a test's own included while it is registered). Raises
    ``ValueError`` for an endpoint set the profile does not have.
    """
    auth_servers["kustomer"] = kustomer
    result: dict[str, dict[str, Any]] = {}
    for profile in profiles.all_profiles():
        result[profile.key] = profile_settings(base_url, profile, auth_servers.get(profile.key))
    return result


def issuer(
    base_url: str, provider: str, tenant: str | None = None, kustomer: str = "per_org"
) -> str:
    """The authorization server's issuer identifier (RFC 9207 ``iss``, id_token ``iss``).

    Gorgias: one issuer per tenant, ``{base}/gorgias/{tenant}``. Kustomer:
    ``{base}/kustomer/{tenant}`` for the per-org endpoints (the default),
    ``{base}/kustomer`` for the seed's global ones. Any profile: its endpoint set's
    ``issuer`` template. Raises ``ValueError`` for an unknown provider or a missing tenant.
    """
    profile = profiles.get(provider)
    if profile is None:
        raise ValueError(f"unknown sandbox provider {provider!r}")
    chosen = kustomer if kustomer in profile.auth_servers else None
    return issuer_of(base_url, profile, _auth_server_name(profile, chosen), tenant)


def issuer_of(base_url: str, profile: Profile, auth_server: str, tenant: str | None) -> str:
    """The issuer of ``profile``'s endpoint set ``auth_server`` for ``tenant``."""
    template = profile.auth_servers[auth_server].issuer
    if "{tenant}" in template and not tenant:
        raise ValueError(f"a {profile.title} issuer needs the tenant")
    path = template.format(tenant=tenant)
    return f"{base_url.rstrip('/')}/{profile.key}" + (f"/{path}" if path else "")
