"""URLs of the sandbox providers; mount with ``path("sandbox/", include(...))``.

The real providers put the tenant in the host name (``acme.gorgias.com``);
loopback cannot, so the sandbox puts it in the path. A tenant that is not a
valid subdomain label never matches: 404.
"""

from django.urls import path, re_path, register_converter

from .views import api, apps, authorize, index, openid, token


class TenantConverter:
    """A lowercase DNS label, like the providers' subdomains."""

    regex = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TenantConverter, "sandbox_tenant")

TENANT = f"(?P<tenant>{TenantConverter.regex})"

app_name = "helpdesk_oauth_sandbox"

urlpatterns = [
    path("", index.index, name="index"),
    # Gorgias: one authorization server per account.
    path(
        "gorgias/<sandbox_tenant:tenant>/oauth/authorize",
        authorize.gorgias_authorize,
        name="gorgias-authorize",
    ),
    path("gorgias/<sandbox_tenant:tenant>/oauth/token", token.gorgias_token, name="gorgias-token"),
    path(
        "gorgias/<sandbox_tenant:tenant>/oauth/revoke", token.gorgias_revoke, name="gorgias-revoke"
    ),
    # OpenID Connect: each Gorgias account is its own issuer.
    path(
        "gorgias/<sandbox_tenant:tenant>/.well-known/openid-configuration",
        openid.gorgias_configuration,
        name="gorgias-openid-configuration",
    ),
    path(
        "gorgias/<sandbox_tenant:tenant>/.well-known/jwks.json",
        openid.gorgias_jwks,
        name="gorgias-jwks",
    ),
    path(
        "gorgias/<sandbox_tenant:tenant>/oauth/userinfo",
        openid.gorgias_userinfo,
        name="gorgias-userinfo",
    ),
    # The account's REST API; every path below api/ answers JSON (404 when unknown).
    path(
        "gorgias/<sandbox_tenant:tenant>/api/account",
        api.gorgias_api,
        {"rest": "account"},
        name="gorgias-account",
    ),
    re_path(rf"^gorgias/{TENANT}/api/(?P<rest>.*)$", api.gorgias_api, name="gorgias-api"),
    # Kustomer, the seed's global endpoints (api.apps.kustomerapp.com).
    path("kustomer/oauth/authorize", authorize.kustomer_authorize, name="kustomer-authorize"),
    path("kustomer/oauth/token", token.kustomer_token, name="kustomer-token"),
    # Kustomer apps API (api.kustomerapp.com); before the per-org routes for readability only.
    path("kustomer/apps-api/v1/apps/available", apps.register_app, name="kustomer-apps-register"),
    path(
        "kustomer/apps-api/v1/apps/available/<str:app>/secret",
        apps.generate_secret,
        name="kustomer-apps-secret",
    ),
    path("kustomer/apps-api/v1/apps/available/<str:app>/secret/", apps.generate_secret),
    # Kustomer, the current docs' per-org endpoints ({org}.kustomerapp.com,
    # {org}.api.kustomerapp.com).
    path(
        "kustomer/<sandbox_tenant:tenant>/oauth/authorize",
        authorize.kustomer_org_authorize,
        name="kustomer-org-authorize",
    ),
    path(
        "kustomer/<sandbox_tenant:tenant>/api/oauth/token",
        token.kustomer_org_token,
        name="kustomer-org-token",
    ),
    path(
        "kustomer/<sandbox_tenant:tenant>/api/v1/users/current",
        api.kustomer_api,
        {"rest": "users/current"},
        name="kustomer-current-user",
    ),
    path(
        "kustomer/<sandbox_tenant:tenant>/api/v1/customers",
        api.kustomer_api,
        {"rest": "customers"},
        name="kustomer-customers",
    ),
    re_path(rf"^kustomer/{TENANT}/api/v1/(?P<rest>.*)$", api.kustomer_api, name="kustomer-api"),
]
