"""``helpdesk_oauth_refresh``: refresh access tokens now.

Select installations with exactly one of ``--all``, ``--installation ID`` or
``--app SLUG``. Without ``--due-only`` each selected active installation is
refreshed once even if its token is not due (unless another worker refreshes
it meanwhile); with it, only tokens the beat task would refresh are
(:meth:`~django_helpdesk_oauth.models.TokenQuerySet.due`). A token that never
expires is skipped either way. Works in
keyset batches, so memory stays flat. Exits non-zero if any refresh failed or an
app whose installations it refreshed has a credential problem recorded (its current
client secret rejected, even when the previous one stood in during the grace window):
one ``app SLUG: ...`` line on stderr per such app.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import Installation
from ...services.bulk import RefreshResult, refresh_many
from ..formatting import expires_in, one_line
from ..inputs import get_app, get_installation, positive_int
from ..progress import ProgressBar


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
        installations = Installation.objects.all()
        if options["installation"] is not None:
            installations = installations.filter(pk=get_installation(options["installation"]).pk)
        elif options["app"]:
            installations = installations.of_app(get_app(options["app"]))
        due_only, dry_run = options["due_only"], options["dry_run"]
        total = None if due_only else installations.count()
        with ProgressBar(self.stderr, total, label="refresh", force=options["progress"]) as bar:

            def report(result: RefreshResult) -> None:
                self._report(result, bar)
                bar.advance()

            summary = refresh_many(
                installations,
                due_only=due_only,
                dry_run=dry_run,
                batch_size=options["batch_size"],
                on_result=report,
            )
        counts, failed = summary.counts, summary.failed
        if dry_run:
            self.stdout.write(
                f"dry run: would refresh {counts['would refresh']}, skipped {counts['skipped']}; "
                "nothing changed."
            )
            return
        by_reason = ", ".join(f"{reason} {n}" for reason, n in sorted(summary.failures.items()))
        self.stdout.write(
            f"refreshed {counts['refreshed']}, fresh {counts['fresh']}, "
            f"skipped {counts['skipped']}, failed {failed}" + (f" ({by_reason})" if failed else "")
        )
        for slug, health in summary.app_problems.items():
            self.stderr.write(f"app {slug}: {one_line(health.last_error)}")
        if summary.ok:
            return
        problems = []
        if failed:
            problems.append(f"{failed} of the selected refreshes failed ({by_reason})")
        if summary.app_problems:
            slugs = ", ".join(repr(slug) for slug in summary.app_problems)
            fallback = any(h.previous_secret_in_use for h in summary.app_problems.values())
            problems.append(
                f"the client credentials of app {slugs} have a problem"
                + (" (the previous secret is standing in)" if fallback else "")
                + ": see helpdesk_oauth_status"
            )
        raise CommandError("; ".join(problems) + ".")

    def _report(self, result: RefreshResult, bar: ProgressBar) -> None:
        """One line per installation: failures always (stderr), listings in a dry run,
        the rest at verbosity 2."""
        if result.outcome == "failed":
            bar.clear()
            self.stderr.write(
                f"{result.label}: failed ({result.reason}): {one_line(result.message)}"
            )
        elif result.outcome == "would refresh":
            bar.clear()
            self.stdout.write(
                f"would refresh {result.label}, expires {expires_in(result.expires_at)}"
            )
        elif self.verbosity >= 2:
            bar.clear()
            reason = f" ({result.reason})" if result.reason else ""
            self.stdout.write(f"{result.label}: {result.outcome}{reason}")
