"""Signals (contract). Receivers get ``sender`` = the :class:`Installation` or
:class:`ProviderApp` class and keyword arguments listed per signal."""

from django.dispatch import Signal

#: An install completed (new or re-install). kwargs: ``installation``, ``created``.
installation_completed = Signal()
#: A token was refreshed. kwargs: ``installation``.
token_refreshed = Signal()
#: A refresh failed. kwargs: ``installation``, ``error`` (a ProviderError), ``will_retry``.
token_refresh_failed = Signal()
#: The provider answered ``invalid_grant``: the tenant must install again. kwargs: ``installation``.
installation_needs_reauth = Signal()
#: An installation was uninstalled. kwargs: ``installation``, ``revoked`` (bool).
installation_uninstalled = Signal()
#: A provider app's client secret changed. kwargs: ``app``.
client_secret_rotated = Signal()
#: A provider declared ``refresh_token_rotation = "always"`` answered a refresh without a
#: new refresh token (the previous one was kept). kwargs: ``installation``, ``reason``
#: (``"missing"``: none or unusable; ``"unchanged"``: the one we sent).
refresh_token_not_rotated = Signal()
#: The provider answered ``invalid_client`` to the app's current client secret (a token,
#: refresh or revocation call). kwargs: ``app``, ``fallback_until`` (the end of the grace
#: window, a datetime, when the previous secret was accepted instead; ``None`` when there
#: was no previous secret to try or it was refused too). Sent on every such call.
client_secret_rejected = Signal()
