"""``helpdesk_oauth_refresh``: refresh access tokens now.

Select installations with exactly one of ``--all``, ``--installation ID`` or
``--app SLUG``. Without ``--due-only`` each selected active installation is
refreshed once even if its token is not due (unless another worker refreshes
it meanwhile); with it, only tokens the beat task would refresh are
(:meth:`~django_helpdesk_oauth.models.TokenQuerySet.due`). A token that never
expires is skipped either way. Works in
keyset batches, so memory stays flat. Exits non-zero if any refresh failed.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from ...exceptions import ConfigurationError, HelpdeskOAuthError
from ...humanize import NEVER_EXPIRES
from ...models import Installation
from ...services import RefreshFailed, RefreshRetryLater, refresh_installation
from ...tasks import due_installation_ids
from ..formatting import expires_in, one_line
from ..inputs import get_app, get_installation, positive_int
from ..progress import ProgressBar

FIELDS = ("pk", "app__slug", "tenant", "status", "token__refresh_count", "token__expires_at")


class Command(BaseCommand):
    verbosity = 1
    help = (
        "Refresh the access tokens of --all installations, one --installation ID, or those of "
        "one --app SLUG, now (--due-only: only those the beat task would refresh). "
        "--dry-run lists them and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        selector = parser.add_mutually_exclusive_group(required=True)
        selector.add_argument("--all", action="store_true", help="Every installation.")
        selector.add_argument("--installation", type=int, metavar="ID", help="One installation.")
        selector.add_argument("--app", metavar="SLUG", help="Every installation of one app.")
        parser.add_argument(
            "--due-only",
            action="store_true",
            help="Only due tokens: within REFRESH_MARGIN of their expiry, capped at half "
            "their lifetime (what the beat task refreshes).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be refreshed; change nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=500,
            metavar="N",
            help="Rows read per query (default 500).",
        )
        parser.add_argument(
            "--progress", action="store_true", help="Draw a progress bar even when not on a TTY."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        app_id = None
        if options["installation"] is not None:
            selection = Q(pk=get_installation(options["installation"]).pk)
        elif options["app"]:
            app_id = get_app(options["app"]).pk
            selection = Q(app_id=app_id)
        else:
            selection = Q()
        due_only, dry_run = options["due_only"], options["dry_run"]
        total = None if due_only else Installation.objects.filter(selection).count()
        counts: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        with ProgressBar(self.stderr, total, label="refresh", force=options["progress"]) as bar:
            for batch in self._batches(selection, due_only, options["batch_size"], app_id):
                for row in batch:
                    outcome = self._one(row, due_only=due_only, dry_run=dry_run, bar=bar)
                    counts[outcome] += 1
                    if outcome.startswith("failed:"):
                        reasons[outcome.removeprefix("failed:")] += 1
                    bar.advance()
        failed = sum(reasons.values())
        if dry_run:
            self.stdout.write(
                f"dry run: would refresh {counts['would refresh']}, skipped {counts['skipped']}; "
                "nothing changed."
            )
            return
        by_reason = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
        self.stdout.write(
            f"refreshed {counts['refreshed']}, fresh {counts['fresh']}, "
            f"skipped {counts['skipped']}, failed {failed}" + (f" ({by_reason})" if failed else "")
        )
        if failed:
            raise CommandError(f"{failed} of the selected refreshes failed ({by_reason}).")

    def _batches(
        self, selection: Q, due_only: bool, size: int, app_id: int | None
    ) -> Iterator[list[dict[str, Any]]]:
        """Rows of the selected installations, a batch at a time."""
        if due_only:
            ids = due_installation_ids(size, app_id=app_id)
            while chunk := list(itertools.islice(ids, size)):
                rows = Installation.objects.filter(selection, pk__in=chunk)
                if page := list(rows.order_by("pk").values(*FIELDS)):
                    yield page
            return
        last = 0
        while True:
            rows = Installation.objects.filter(selection, pk__gt=last).order_by("pk")
            page = list(rows.values(*FIELDS)[:size])
            if page:
                yield page
            if len(page) < size:
                return
            last = page[-1]["pk"]

    def _one(self, row: dict[str, Any], *, due_only: bool, dry_run: bool, bar: ProgressBar) -> str:
        """Refresh (or list) one installation; returns the outcome's name."""
        label = f"installation {row['pk']} ({row['app__slug']} @ {row['tenant']})"
        version = row["token__refresh_count"]
        never = version is not None and row["token__expires_at"] is None
        if row["status"] != Installation.Status.ACTIVE or version is None or never:
            # A token that never expires is never refreshed, even forced (DESIGN.md).
            if self.verbosity >= 2:
                bar.clear()
                reason = "no token" if version is None else row["status"]
                self.stdout.write(f"{label}: skipped ({NEVER_EXPIRES if never else reason})")
            return "skipped"
        if dry_run:
            bar.clear()
            self.stdout.write(
                f"would refresh {label}, expires {expires_in(row['token__expires_at'])}"
            )
            return "would refresh"
        try:
            outcome = refresh_installation(row["pk"], if_version=None if due_only else version)
        except RefreshFailed as exc:
            error = exc.error
            reason = error.error or (f"http_{error.status}" if error.status else "error")
            message = one_line(exc)
        except RefreshRetryLater as exc:
            reason, message = "transient", one_line(exc)
        except (HelpdeskOAuthError, ConfigurationError) as exc:
            reason, message = type(exc).__name__, one_line(exc)
        else:
            if self.verbosity >= 2:
                bar.clear()
                self.stdout.write(f"{label}: {outcome}")
            return str(outcome)
        bar.clear()
        self.stderr.write(f"{label}: failed ({reason}): {message}")
        return f"failed:{reason}"
