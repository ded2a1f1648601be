"""``helpdesk_oauth_status``: one line per installation; never a token.

Columns: id, app, tenant, status, when the access token expires ("never expires"
for a token whose ``expires_at`` is empty), the last refresh, failed refreshes since
the last success, and the last error. ``--json`` prints the same as a JSON list for
scripts (``expires_at`` null and ``never_expires`` true for such a token; ``due``
says whether the sweep would refresh it now).

A provider app with a credential problem (``ProviderApp.last_error``: its current
client secret rejected, even while the previous one stands in during the grace
window) gets an ``app SLUG: ...`` line after the table; in the JSON each installation
of such an app has an ``app_error`` object (``null`` for a healthy app).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from ...humanize import NEVER_EXPIRES
from ...models import Installation, is_due
from ...services.bulk import app_problems
from ...services.creds import CredentialHealth
from ...timeutil import utc_iso
from ..formatting import ago, expires_in, table, truncate
from ..inputs import get_app

HEADERS = ("ID", "APP", "TENANT", "STATUS", "EXPIRES IN", "LAST REFRESH", "FAILURES", "LAST ERROR")
# Only these columns are read: the token values are never even loaded.
FIELDS = (
    "pk",
    "app__slug",
    "app__provider",
    "tenant",
    "status",
    "installed_at",
    "refresh_failures",
    "last_error",
    "last_error_at",
    "token__expires_at",
    "token__last_refreshed_at",
    "token__lifetime",
    "token__pk",
)


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset: under ``USE_TZ=False`` the stored value is naive
    local time in ``TIME_ZONE``, which a script reading the JSON could not place."""
    return utc_iso(value) if value else None


class Command(BaseCommand):
    help = "Show every installation: app, tenant, status, token expiry, last refresh and error."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app", metavar="SLUG", help="Only the installations of this app.")
        parser.add_argument(
            "--json", action="store_true", help="Print a JSON list of objects instead."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        installations = Installation.objects.all()
        if options["app"]:
            installations = installations.filter(app=get_app(options["app"]))
        rows = installations.order_by("pk").values(*FIELDS).iterator(chunk_size=500)
        now = timezone.now()
        problems = app_problems([options["app"]] if options["app"] else None)
        if options["json"]:
            entries = [self._as_json(row, now, problems) for row in rows]
            self.stdout.write(json.dumps(entries, indent=2))
            return
        lines = [self._as_cells(row, now) for row in rows]
        if not lines:
            scope = f" of app {options['app']!r}" if options["app"] else ""
            self.stdout.write(f"No installations{scope}.")
        else:
            for line in table(HEADERS, lines):
                self.stdout.write(line)
        for slug, health in problems.items():
            when = f" (at {_iso(health.last_error_at)})" if health.last_error_at else ""
            self.stdout.write(f"app {slug}: {' '.join(health.last_error.split())}{when}")

    def _as_cells(self, row: dict[str, Any], now: datetime) -> list[str]:
        has_token = row["token__pk"] is not None
        expires_at = row["token__expires_at"]
        return [
            str(row["pk"]),
            row["app__slug"],
            row["tenant"],
            row["status"],
            # expires_at NULL with a token: it never expires (never refreshed).
            NEVER_EXPIRES if has_token and expires_at is None else expires_in(expires_at, now),
            ago(row["token__last_refreshed_at"], now) if has_token else "-",
            str(row["refresh_failures"]),
            truncate(" ".join(row["last_error"].split()), 60) or "-",
        ]

    def _as_json(
        self, row: dict[str, Any], now: datetime, problems: dict[str, CredentialHealth]
    ) -> dict[str, Any]:
        expires_at = row["token__expires_at"]
        health = problems.get(row["app__slug"])
        return {
            "id": row["pk"],
            "app": row["app__slug"],
            "provider": row["app__provider"],
            "tenant": row["tenant"],
            "status": row["status"],
            "installed_at": _iso(row["installed_at"]),
            "expires_at": _iso(expires_at),
            "expires_in_seconds": int((expires_at - now).total_seconds()) if expires_at else None,
            # Tell "no token" (null) from "a token that never expires" (true).
            "never_expires": None if row["token__pk"] is None else expires_at is None,
            # The sweep's own predicate (Token.is_due; false for a never-expiring token),
            # on active installations only, as the sweep.
            "due": row["status"] == Installation.Status.ACTIVE
            and is_due(expires_at, row["token__lifetime"], now),
            "last_refreshed_at": _iso(row["token__last_refreshed_at"]),
            "refresh_failures": row["refresh_failures"],
            "last_error": row["last_error"],
            "last_error_at": _iso(row["last_error_at"]),
            # The app's credentials: null when it has no recorded problem.
            "app_error": None
            if health is None
            else {
                "last_error": health.last_error,
                "last_error_at": _iso(health.last_error_at),
                "previous_secret_in_use": health.previous_secret_in_use,
                "previous_secret_until": _iso(health.fallback_until),
            },
        }
