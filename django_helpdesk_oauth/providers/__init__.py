"""The provider registry: ``get_provider("gorgias")``.

Register a new provider with :func:`register` from your AppConfig.ready(); see
``docs/ADDING_PROVIDERS.md``.
"""

from __future__ import annotations

from ..exceptions import UnknownProvider
from .base import ExpiryInfo, Provider
from .front import FrontProvider
from .gorgias import GorgiasProvider
from .helpscout import HelpScoutProvider
from .hubspot import HubSpotProvider
from .intercom import IntercomProvider
from .kustomer import KustomerProvider
from .zendesk import ZendeskProvider
from .zoho_desk import ZohoDeskProvider

__all__ = ["ExpiryInfo", "Provider", "get_provider", "provider_choices", "register", "registry"]

registry: dict[str, Provider] = {}


def register(provider_class: type[Provider]) -> type[Provider]:
    """Add a provider class to the registry (usable as a class decorator)."""
    if not provider_class.key:
        raise ValueError(f"{provider_class.__name__} has no key")
    registry[provider_class.key] = provider_class()
    return provider_class


def get_provider(key: str) -> Provider:
    """The registered provider for ``key``; :class:`UnknownProvider` if none."""
    try:
        return registry[key]
    except KeyError:
        raise UnknownProvider(f"No helpdesk OAuth provider is registered as {key!r}.") from None


def provider_choices() -> list[tuple[str, str]]:
    """``(key, name)`` pairs for model and form choices."""
    return sorted((key, provider.name) for key, provider in registry.items())


register(GorgiasProvider)
register(KustomerProvider)
register(IntercomProvider)
register(ZohoDeskProvider)
register(HubSpotProvider)
register(HelpScoutProvider)
register(FrontProvider)
register(ZendeskProvider)
