"""Where the sandbox providers live, in the shape of ``HELPDESK_OAUTH["PROVIDERS"]``."""

from __future__ import annotations

from typing import Any

KUSTOMER_ENDPOINT_SETS = ("seed", "per_org")


def provider_settings(base_url: str, kustomer: str = "per_org") -> dict[str, dict[str, Any]]:
    """``HELPDESK_OAUTH["PROVIDERS"]`` pointing at a sandbox served at ``base_url``.

    ``base_url`` includes the mount prefix, e.g. ``http://127.0.0.1:8123/sandbox``.
    ``kustomer`` picks Kustomer's endpoint set: ``"per_org"`` (the default, like the
    provider's: the current docs' ``{tenant}.kustomerapp.com`` /
    ``{tenant}.api.kustomerapp.com``) or ``"seed"`` (the tutorial's global
    ``api.apps.kustomerapp.com`` endpoints, where the consent page asks for the
    org). The literal ``{tenant}`` stays in the URLs for the client to substitute.
    """
    base = base_url.rstrip("/")
    if kustomer == "seed":
        kustomer_authorize = f"{base}/kustomer/oauth/authorize"
        kustomer_token = f"{base}/kustomer/oauth/token"
    elif kustomer == "per_org":
        kustomer_authorize = f"{base}/kustomer/{{tenant}}/oauth/authorize"
        kustomer_token = f"{base}/kustomer/{{tenant}}/api/oauth/token"
    else:
        raise ValueError(f"kustomer must be one of {KUSTOMER_ENDPOINT_SETS}, not {kustomer!r}")
    return {
        "gorgias": {
            "authorize_url": f"{base}/gorgias/{{tenant}}/oauth/authorize",
            "token_url": f"{base}/gorgias/{{tenant}}/oauth/token",
            "revoke_url": f"{base}/gorgias/{{tenant}}/oauth/revoke",
            "api_base_url": f"{base}/gorgias/{{tenant}}/api/",
        },
        "kustomer": {
            "authorize_url": kustomer_authorize,
            "token_url": kustomer_token,
            "api_base_url": f"{base}/kustomer/{{tenant}}/api/v1/",
            "apps_api_url": f"{base}/kustomer/apps-api",
        },
    }


def issuer(
    base_url: str, provider: str, tenant: str | None = None, kustomer: str = "per_org"
) -> str:
    """The authorization server's issuer identifier (RFC 9207 ``iss``, id_token ``iss``).

    Gorgias: one issuer per tenant, ``{base}/gorgias/{tenant}``. Kustomer:
    ``{base}/kustomer/{tenant}`` for the per-org endpoints (the default),
    ``{base}/kustomer`` for the seed's global ones.
    """
    base = base_url.rstrip("/")
    if provider == "gorgias":
        if not tenant:
            raise ValueError("a Gorgias issuer needs the tenant")
        return f"{base}/gorgias/{tenant}"
    if provider == "kustomer":
        if kustomer == "seed":
            return f"{base}/kustomer"
        if not tenant:
            raise ValueError("a per-org Kustomer issuer needs the tenant")
        return f"{base}/kustomer/{tenant}"
    raise ValueError(f"unknown sandbox provider {provider!r}")
