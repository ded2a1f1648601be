"""``helpdesk_oauth_rekey``: re-encrypt stored secrets and tokens with the first key.

Rotate the encryption key: prepend the new key to
``HELPDESK_OAUTH["ENCRYPTION_KEYS"]``, deploy, run this command, then remove
the old key. From the key derived from ``SECRET_KEY`` to ``ENCRYPTION_KEYS``:
deploy ``ENCRYPTION_KEYS`` with ``DECRYPT_WITH_SECRET_KEY = True``, run this
command, then remove that setting. Idempotent: values already under the first key are left alone,
so an interrupted run is resumed by running it again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import crypto
from ...exceptions import ConfigurationError
from ...services.rekey import RekeyError, encrypted_models, rekey_model
from ..formatting import one_line, table
from ..inputs import positive_int
from ..progress import ProgressBar


class Command(BaseCommand):
    help = (
        'Re-encrypt every encrypted column with the first key of HELPDESK_OAUTH["ENCRYPTION_KEYS"]'
        " (run after prepending a new key, before removing the old one; or, moving from the"
        ' SECRET_KEY-derived key, with HELPDESK_OAUTH["DECRYPT_WITH_SECRET_KEY"] = True).'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=500,
            metavar="N",
            help="Rows per batch and transaction (default 500).",
        )
        parser.add_argument(
            "--model",
            metavar="LABEL",
            help="Only this model, e.g. helpdesk_oauth.Token (default: every model).",
        )
        parser.add_argument(
            "--start-after",
            type=int,
            metavar="PK",
            help="With --model: skip rows up to this primary key (resume a long run).",
        )
        parser.add_argument(
            "--progress", action="store_true", help="Draw a progress bar even when not on a TTY."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        targets = encrypted_models()
        if options["model"]:
            wanted = options["model"].lower()
            targets = [t for t in targets if t[0]._meta.label_lower == wanted]
            if not targets:
                known = ", ".join(model._meta.label for model, _ in encrypted_models())
                raise CommandError(f"--model {options['model']!r} is not one of: {known}.")
        elif options["start_after"] is not None:
            raise CommandError("--start-after needs --model (primary keys differ per model).")
        total = sum(model._default_manager.count() for model, _ in targets)
        results = []
        with ProgressBar(self.stderr, total, label="rekey", force=options["progress"]) as bar:
            for model, fields in targets:
                try:
                    results.append(
                        rekey_model(
                            model,
                            fields,
                            batch_size=options["batch_size"],
                            start_after=options["start_after"],
                            on_batch=bar.advance,
                        )
                    )
                except (RekeyError, ConfigurationError) as exc:
                    bar.clear()
                    raise CommandError(one_line(exc)) from None
        rows = [(r.label, ", ".join(r.fields), r.rows, r.rewritten, r.values) for r in results]
        for line in table(("MODEL", "FIELDS", "ROWS", "REWRITTEN", "VALUES"), rows):
            self.stdout.write(line)
        values = sum(r.values for r in results)
        self.stdout.write(f"Re-encrypted {values} values with the first key.")
        if crypto.decrypts_with_secret_key() and not options["model"]:
            # Every row was read and none failed: nothing needs the derived keys any more.
            self.stdout.write(
                "Nothing is left under the keys derived from SECRET_KEY: remove "
                'HELPDESK_OAUTH["DECRYPT_WITH_SECRET_KEY"] and deploy.'
            )
