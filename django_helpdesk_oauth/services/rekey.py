"""Re-encrypt every encrypted column with the first key of ``ENCRYPTION_KEYS``.

Key rotation: prepend a new key to ``HELPDESK_OAUTH["ENCRYPTION_KEYS"]``, run
``helpdesk_oauth_rekey`` (this module), then drop the old key. Moving from the
key derived from ``SECRET_KEY`` to ``ENCRYPTION_KEYS``: set both ``ENCRYPTION_KEYS``
and ``DECRYPT_WITH_SECRET_KEY = True`` (the derived keys then decrypt too), run
it, then remove ``DECRYPT_WITH_SECRET_KEY``. Every
:class:`~django_helpdesk_oauth.fields.EncryptedTextField` of every model of
this app is found by introspection, so a new encrypted column is covered
without touching this file.

Ciphertext is read raw (a ``Cast`` to plain text bypasses the field's
decryption), so a value no key opens is reported by model, primary key and
field, never returned or shown. Rows are walked by primary key in batches
(keyset pagination), each batch locked and rewritten in its own transaction:
a concurrent writer (a token refresh) either finishes first and is re-read, or
waits. Values already encrypted with the first key are left alone, so running
it again is cheap and an interrupted run resumes by simply re-running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from .. import crypto
from ..exceptions import ConfigurationError, DecryptionError, HelpdeskOAuthError
from ..fields import EncryptedTextField

APP_LABEL = "helpdesk_oauth"


class RekeyError(HelpdeskOAuthError):
    """A stored value cannot be decrypted with any configured key (names the row, not the value)."""

    def __init__(self, label: str, pk: object, field: str, hint: str = "") -> None:
        fix = hint or (
            "Add the key it was written with (or clear that value), then run the re-key again; "
            "rows before it are done."
        )
        super().__init__(
            f"{label} pk={pk}: the {field} value cannot be decrypted with any key in "
            f'HELPDESK_OAUTH["ENCRYPTION_KEYS"]. {fix}'
        )
        self.label, self.pk, self.field = label, pk, field


@dataclass
class ModelRekey:
    """What re-keying one model did."""

    label: str
    fields: tuple[str, ...]
    rows: int = 0  # rows read
    rewritten: int = 0  # rows with at least one value re-encrypted
    values: int = 0  # values re-encrypted


def encrypted_models() -> list[tuple[type[models.Model], tuple[str, ...]]]:
    """Every model of this app with encrypted columns, and those columns' names."""
    found = []
    for model in apps.get_app_config(APP_LABEL).get_models():
        names = tuple(
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField)
        )
        if names:
            found.append((model, names))
    return found


def _primary() -> Fernet:
    try:
        return Fernet(crypto.configured_keys()[0])
    except (ValueError, TypeError):
        raise ConfigurationError(
            'The first key of HELPDESK_OAUTH["ENCRYPTION_KEYS"] is not a Fernet key.'
        ) from None


def _is_current(primary: Fernet, ciphertext: str) -> bool:
    try:
        primary.decrypt(ciphertext.encode("ascii"))
    except (InvalidToken, UnicodeError, ValueError):
        return False
    return True


def rekey_model(
    model: type[models.Model],
    fields: tuple[str, ...],
    *,
    batch_size: int = 500,
    start_after: object = None,
    on_batch: Callable[[int], None] | None = None,
) -> ModelRekey:
    """Re-encrypt ``fields`` of every row of ``model`` with the first key.

    Raises :class:`RekeyError` at the first value no key can decrypt (that
    batch is rolled back; earlier batches stay re-keyed).
    """
    label = model._meta.label
    result = ModelRekey(label, fields)
    primary = _primary()
    raw = {f"_rekey_raw_{name}": Cast(name, models.TextField()) for name in fields}
    last = start_after
    while True:
        with transaction.atomic():
            rows = model._default_manager.select_for_update().order_by("pk")
            if last is not None:
                rows = rows.filter(pk__gt=last)
            page = list(rows.annotate(**raw).values_list("pk", *raw)[:batch_size])
            updates: dict[str, dict[object, str]] = {name: {} for name in fields}
            for pk, *values in page:
                changed = 0
                for name, ciphertext in zip(fields, values, strict=True):
                    if not ciphertext or _is_current(primary, ciphertext):
                        continue
                    try:
                        updates[name][pk] = crypto.rotate(ciphertext)
                    except DecryptionError:
                        hint = crypto.unreadable_hint(ciphertext)
                        raise RekeyError(label, pk, name, hint) from None
                    changed += 1
                result.values += changed
                result.rewritten += bool(changed)
            _write(model, updates)
        result.rows += len(page)
        if on_batch is not None and page:
            on_batch(len(page))
        if len(page) < batch_size:
            return result
        last = page[-1][0]


def _write(model: type[models.Model], updates: dict[str, dict[object, str]]) -> None:
    """Store the new ciphertexts raw (typed as plain text, so they are not encrypted again)."""
    pks = {pk for per_field in updates.values() for pk in per_field}
    if not pks:
        return
    assignments = {
        name: models.Case(
            *(
                models.When(pk=pk, then=models.Value(value, output_field=models.TextField()))
                for pk, value in per_field.items()
            ),
            default=models.F(name),
            output_field=models.TextField(),
        )
        for name, per_field in updates.items()
        if per_field
    }
    model._default_manager.filter(pk__in=pks).update(**assignments)


def rekey_all(
    *, batch_size: int = 500, on_batch: Callable[[str, int], None] | None = None
) -> list[ModelRekey]:
    """Re-key every encrypted column of every model of this app; one result per model."""
    results = []
    for model, fields in encrypted_models():
        label = model._meta.label

        def progress(count: int, label: str = label) -> None:
            if on_batch is not None:
                on_batch(label, count)

        results.append(rekey_model(model, fields, batch_size=batch_size, on_batch=progress))
    return results
