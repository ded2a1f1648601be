"""The example project's own app: the integrations page and the demo commands."""
