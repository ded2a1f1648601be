"""Emulated Gorgias and Kustomer OAuth 2.0 authorization servers and APIs.

Mount with ``path("sandbox/", include("django_helpdesk_oauth.sandbox.urls"))``
and add ``"django_helpdesk_oauth.sandbox"`` to ``INSTALLED_APPS``. All state
lives in memory in :data:`django_helpdesk_oauth.sandbox.state.state`; tests
drive and inspect it through that object (see its docstrings).
"""
