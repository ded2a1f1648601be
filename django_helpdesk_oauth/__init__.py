"""Install a Django product from helpdesk marketplaces through OAuth 2.0."""

__version__ = "0.1.0"
