"""Provider apps, installations (one per customer account), their tokens, and
pending authorization requests.

Field names are public contract (DESIGN.md). Secrets and tokens live in
:class:`~django_helpdesk_oauth.fields.EncryptedTextField` columns, and no
``__str__``/``__repr__`` here ever includes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper, F, Q, Value
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .fields import EncryptedTextField, masked_value
from .providers import Provider, get_provider, provider_choices

if TYPE_CHECKING:
    import requests


class ProviderAppQuerySet(models.QuerySet["ProviderApp"]):
    def previous_secret_expired(self, cutoff: datetime) -> ProviderAppQuerySet:
        """Apps still keeping a previous client secret although their rotation happened
        before ``cutoff`` (the grace window has closed)."""
        return self.filter(secret_rotated_at__lt=cutoff).exclude(previous_client_secret="")


class ProviderApp(models.Model):
    """A product's OAuth app registered at one provider (its client credentials)."""

    slug = models.SlugField(
        _("slug"), unique=True, help_text=_("Used in the install and callback URLs.")
    )
    provider = models.CharField(
        _("provider"),
        max_length=40,
        choices=provider_choices,
        help_text=_("Which helpdesk this app is registered with."),
    )
    name = models.CharField(
        _("name"), max_length=100, blank=True, help_text=_("Shown to staff and on install pages.")
    )
    client_id = models.CharField(
        _("client ID"), max_length=255, help_text=_("The OAuth client ID from the provider.")
    )
    client_secret = EncryptedTextField(
        _("client secret"), help_text=_("The OAuth client secret; stored encrypted, never shown.")
    )
    scopes = models.CharField(
        _("scopes"),
        max_length=1000,
        blank=True,
        help_text=_("Space-separated scopes to request; empty uses the provider's defaults."),
    )
    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("Disabled apps refuse new installations.")
    )
    provider_app_name = models.CharField(
        _("provider-side app name"),
        max_length=255,
        blank=True,
        help_text=_(
            "The provider's own name for the app, where its apps API needs one to rotate "
            "the secret."
        ),
    )
    previous_client_secret = EncryptedTextField(
        _("previous client secret"),
        blank=True,
        default="",
        help_text=_("Kept for a grace window after a rotation; stored encrypted."),
    )
    secret_rotated_at = models.DateTimeField(
        _("secret rotated at"), null=True, blank=True, help_text=_("When the secret last changed.")
    )
    last_error = models.CharField(
        _("last error"),
        max_length=255,
        blank=True,
        help_text=_("The last app-level failure, e.g. the provider rejecting the credentials."),
    )
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ProviderAppQuerySet.as_manager()

    class Meta:
        verbose_name = _("provider app")
        verbose_name_plural = _("provider apps")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug

    def __repr__(self) -> str:
        return f"<ProviderApp {self.slug!r} provider={self.provider!r}>"

    @property
    def provider_spec(self) -> Provider:
        """The registered provider definition for this app."""
        return get_provider(self.provider)

    @property
    def client_secret_hint(self) -> str:
        """The secret masked to its last four characters, for display; ``"unreadable —
        replace it"`` when no configured key decrypts it."""
        return masked_value(self, "client_secret")

    def scope_list(self) -> list[str]:
        """The scopes this app requests."""
        return self.provider_spec.scopes(self.scopes)


class InstallationQuerySet(models.QuerySet["Installation"]):
    def active(self) -> InstallationQuerySet:
        """Installations that are refreshed and usable (status ``active``)."""
        return self.filter(status=Installation.Status.ACTIVE)

    def of_app(self, app: ProviderApp | int) -> InstallationQuerySet:
        """The installations of one provider app (an instance or its pk)."""
        return self.filter(app_id=app.pk if isinstance(app, ProviderApp) else app)


class Installation(models.Model):
    """One customer account (tenant) that installed a provider app."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        NEEDS_REAUTH = "needs_reauth", _("needs re-authorization")
        UNINSTALLED = "uninstalled", _("uninstalled")

    app = models.ForeignKey(
        ProviderApp,
        on_delete=models.PROTECT,
        related_name="installations",
        verbose_name=_("app"),
        help_text=_("The provider app installed."),
    )
    tenant = models.CharField(
        _("tenant"),
        max_length=63,
        help_text=_("The customer's account at the provider, as the provider names it."),
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=Status.choices,
        default=Status.ACTIVE,
        db_index=True,
        help_text=_("Only active installations are refreshed and usable."),
    )
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("installed by"),
        help_text=_("The signed-in user who completed the install, if any."),
    )
    installed_at = models.DateTimeField(
        _("installed at"), default=timezone.now, help_text=_("When the last install completed.")
    )
    uninstalled_at = models.DateTimeField(
        _("uninstalled at"), null=True, blank=True, help_text=_("When it was uninstalled.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    last_error = models.CharField(
        _("last error"),
        max_length=255,
        blank=True,
        help_text=_("A short reason for the last failure (never a token)."),
    )
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    refresh_failures = models.PositiveIntegerField(
        _("refresh failures"), default=0, help_text=_("Failed refreshes since the last success.")
    )
    connection_config = models.JSONField(
        _("connection config"),
        default=dict,
        blank=True,
        help_text=_(
            "Non-secret per-installation values the provider's endpoint templates use, "
            'e.g. {"region": "eu"}; checked against the provider\'s allow-list before use.'
        ),
    )

    objects = InstallationQuerySet.as_manager()

    class Meta:
        verbose_name = _("installation")
        verbose_name_plural = _("installations")
        ordering = ["app", "tenant"]
        constraints = [
            models.UniqueConstraint(fields=["app", "tenant"], name="helpdesk_oauth_one_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.app} @ {self.tenant}"

    def __repr__(self) -> str:
        return f"<Installation {self.pk} app_id={self.app_id} tenant={self.tenant!r} {self.status}>"

    @property
    def provider_spec(self) -> Provider:
        """The provider definition of this installation's app."""
        return self.app.provider_spec

    @property
    def api_base_url(self) -> str:
        """The tenant's API base URL."""
        return self.provider_spec.endpoint("api_base_url", self.tenant, self.connection_config)

    def api_session(self) -> requests.Session:
        """A ``requests.Session`` authorized as this installation (see :mod:`.session`).

        Its requests raise :class:`~.exceptions.NotInstalled` without a usable token, and
        :class:`~.exceptions.DecryptionError` (nothing sent) when the stored token or the
        app's client secret cannot be decrypted with the configured keys.
        """
        from .session import InstallationSession

        return InstallationSession(self)


def refresh_margin(lifetime: timedelta | None) -> timedelta:
    """How long before ``expires_at`` a token with this granted ``lifetime`` is due:
    ``min(REFRESH_MARGIN, lifetime / 2)``; ``REFRESH_MARGIN`` (seconds) when the lifetime
    is unknown (``None``). So a 900 s token is refreshed once per lifetime, at its
    half-life, not on every call because it is always "within" a 30-minute margin."""
    margin = timedelta(seconds=app_settings.REFRESH_MARGIN)
    return margin if lifetime is None else min(margin, lifetime / 2)


def due_condition(now: datetime | None = None) -> Q:
    """The "is due" predicate as a ``Q`` on ``Token`` rows (see :meth:`TokenQuerySet.due`).

    Every term is on the row's own columns (no subquery), so a conditional UPDATE
    using it (the refresh lease) re-checks it on the row it locks.
    """
    now = timezone.now() if now is None else now
    margin = timedelta(seconds=app_settings.REFRESH_MARGIN)
    # expires_at <= now + lifetime / 2, written without dividing a column (SQLite stores
    # durations as integer microseconds): (expires_at - now) * 2 <= lifetime.
    left = ExpressionWrapper(F("expires_at") - Value(now), output_field=models.DurationField())
    capped = (
        Q(lifetime__isnull=True)
        | Q(lifetime__gte=2 * margin)
        | Q(LessThanOrEqual(left + left, F("lifetime")))
    )
    # The first term is a range on the (expires_at, id) index; the cap filters what it finds.
    return Q(expires_at__lte=now + margin) & capped


class TokenQuerySet(models.QuerySet["Token"]):
    def due(self, now: datetime | None = None) -> TokenQuerySet:
        """Tokens to refresh now (the one "is due" predicate; in memory: :meth:`Token.is_due`).

        Due iff ``expires_at`` is set (NULL never expires: never due) and
        ``expires_at <= now + min(REFRESH_MARGIN, lifetime / 2)`` (``lifetime`` NULL:
        ``REFRESH_MARGIN``). The first condition, ``expires_at <= now + REFRESH_MARGIN``,
        is a range on the ``(expires_at, id)`` index; the cap is checked on the rows it
        selects. ``now`` defaults to ``timezone.now()``.
        """
        return self.filter(due_condition(now))

    def of_active_installations(self) -> TokenQuerySet:
        """Tokens of active installations (the only ones refreshed or used)."""
        return self.filter(installation__status=Installation.Status.ACTIVE)


class Token(models.Model):
    """The access and refresh token of one installation, encrypted at rest."""

    installation = models.OneToOneField(
        Installation,
        on_delete=models.CASCADE,
        related_name="token",
        verbose_name=_("installation"),
    )
    access_token = EncryptedTextField(_("access token"), help_text=_("Stored encrypted."))
    refresh_token = EncryptedTextField(
        _("refresh token"), blank=True, default="", help_text=_("Stored encrypted; may be empty.")
    )
    token_type = models.CharField(_("token type"), max_length=40, default="Bearer")
    scope = models.CharField(
        _("scope"), max_length=1000, blank=True, help_text=_("Scopes the provider granted.")
    )
    expires_at = models.DateTimeField(
        _("expires at"),
        null=True,
        blank=True,
        help_text=_(
            "When the access token expires (from the answer's expires_at, expires_in, the JWT "
            "exp, or the provider's documented lifetime); empty: it never expires. Set it to "
            "now to have the token refreshed."
        ),
    )
    lifetime = models.DurationField(
        _("lifetime"),
        null=True,
        blank=True,
        help_text=_(
            "The lifetime the provider granted this access token, recorded when it was "
            "stored; caps the refresh margin at half of it. Empty: unknown or never expires."
        ),
    )
    issued_at = models.DateTimeField(
        _("issued at"), default=timezone.now, help_text=_("When this access token was obtained.")
    )
    last_refreshed_at = models.DateTimeField(
        _("last refreshed at"), null=True, blank=True, help_text=_("When it was last refreshed.")
    )
    refresh_count = models.PositiveIntegerField(
        _("refresh count"),
        default=0,
        help_text=_("Successful refreshes; also the version that guards concurrent writers."),
    )
    # The single-flight refresh lease (invariant 1): taken with one conditional UPDATE.
    lease_owner = models.CharField(
        _("lease owner"), max_length=64, blank=True, help_text=_("Who is refreshing right now.")
    )
    lease_expires_at = models.DateTimeField(
        _("lease expires at"),
        null=True,
        blank=True,
        help_text=_("After this, another worker may take over the refresh."),
    )

    objects = TokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("token")
        verbose_name_plural = _("tokens")
        # The refresh sweep walks (expires_at, id) in keyset order.
        indexes = [models.Index(fields=["expires_at", "id"], name="helpdesk_oauth_token_sweep")]

    def __str__(self) -> str:
        return f"token of installation {self.installation_id}"

    def __repr__(self) -> str:
        return f"<Token installation={self.installation_id} expires_at={self.expires_at}>"

    @property
    def never_expires(self) -> bool:
        """Whether the access token never expires (``expires_at`` NULL)."""
        return self.expires_at is None

    def is_due(self, now: datetime | None = None) -> bool:
        """Whether this token is to be refreshed now: :meth:`TokenQuerySet.due` in memory.

        ``False`` for a token that never expires; else ``expires_at <= now +
        min(REFRESH_MARGIN, lifetime / 2)`` (see :func:`refresh_margin`).
        """
        return is_due(self.expires_at, self.lifetime, now)


def is_due(
    expires_at: datetime | None, lifetime: timedelta | None, now: datetime | None = None
) -> bool:
    """The "is due" predicate on values already read (a ``.values()`` row, a snapshot):
    ``expires_at`` ``None`` (never expires) is never due; else ``expires_at <= now +``
    :func:`refresh_margin` ``(lifetime)``. ``now`` defaults to ``timezone.now()``."""
    if expires_at is None:
        return False
    now = timezone.now() if now is None else now
    return expires_at <= now + refresh_margin(lifetime)


class PendingRevocationQuerySet(models.QuerySet["PendingRevocation"]):
    def due(self, now: datetime | None = None) -> PendingRevocationQuerySet:
        """Revocations whose next attempt is due at ``now`` (default ``timezone.now()``);
        pass an earlier ``now`` for those their own scheduled retry has missed."""
        return self.filter(next_attempt_at__lte=timezone.now() if now is None else now)


class PendingRevocation(models.Model):
    """A token (``token_kind``: refresh or access) still to be revoked at the provider
    after an uninstall.

    The uninstall completes for the user at once; a transient revoke failure
    leaves this row (token encrypted) for the background retry.
    """

    app = models.ForeignKey(
        ProviderApp, on_delete=models.CASCADE, related_name="+", verbose_name=_("app")
    )
    tenant = models.CharField(_("tenant"), max_length=63)
    token = EncryptedTextField(_("token"), help_text=_("The token to revoke; encrypted."))
    #: Which token ``token`` is: the one the provider's revocation strategy takes.
    token_kind = models.CharField(
        _("token kind"),
        max_length=13,
        choices=[("refresh_token", _("refresh token")), ("access_token", _("access token"))],
        default="refresh_token",
        help_text=_("Which token is to be revoked (the provider's revocation strategy)."),
    )
    #: The installation's ``connection_config`` (its region's revoke host).
    connection_config = models.JSONField(_("connection config"), default=dict, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(
        _("next attempt at"), default=timezone.now, db_index=True
    )
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PendingRevocationQuerySet.as_manager()

    class Meta:
        verbose_name = _("pending revocation")
        verbose_name_plural = _("pending revocations")

    def __str__(self) -> str:
        return f"pending revocation for {self.tenant}"

    def __repr__(self) -> str:
        return f"<PendingRevocation {self.pk} app_id={self.app_id} tenant={self.tenant!r}>"


class AuthorizationRequestQuerySet(models.QuerySet["AuthorizationRequest"]):
    def expired(self, now: datetime | None = None) -> AuthorizationRequestQuerySet:
        """Requests past ``expires_at`` at ``now`` (default ``timezone.now()``): their
        state can no longer complete an install."""
        return self.filter(expires_at__lte=timezone.now() if now is None else now)


class AuthorizationRequest(models.Model):
    """A pending install: the ``state`` (stored hashed), nonce and PKCE verifier.

    Single use (the callback deletes the row it claims), expiring
    (``expires_at``) and bound to the browser session that started it
    (``browser_binding``, a hash of a random value kept in that session).
    """

    state_hash = models.CharField(
        _("state hash"), max_length=64, unique=True, help_text=_("SHA-256 of the state.")
    )
    app = models.ForeignKey(
        ProviderApp, on_delete=models.CASCADE, related_name="+", verbose_name=_("app")
    )
    #: Blank for a provider that names the tenant only after the exchange.
    tenant = models.CharField(_("tenant"), max_length=63, blank=True)
    #: Chosen on the install URL (the region), validated; copied to the installation.
    connection_config = models.JSONField(_("connection config"), default=dict, blank=True)
    browser_binding = models.CharField(
        _("browser binding"),
        max_length=64,
        help_text=_("SHA-256 of a random value stored in the browser's session."),
    )
    nonce = models.CharField(_("nonce"), max_length=64, blank=True)
    code_verifier = EncryptedTextField(_("PKCE code verifier"), blank=True, default="")
    redirect_uri = models.CharField(_("redirect URI"), max_length=500)
    scopes = models.CharField(_("scopes"), max_length=1000)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    objects = AuthorizationRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("authorization request")
        verbose_name_plural = _("authorization requests")
        # begin_install keeps each browser's newest few requests (services.install).
        indexes = [
            models.Index(
                fields=["browser_binding", "created_at"], name="helpdesk_oauth_authreq_browser"
            )
        ]

    def __str__(self) -> str:
        return f"authorization request for {self.tenant}"

    def __repr__(self) -> str:
        return f"<AuthorizationRequest {self.pk} app_id={self.app_id} tenant={self.tenant!r}>"
