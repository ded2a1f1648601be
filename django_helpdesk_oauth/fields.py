"""A text field stored encrypted (see :mod:`django_helpdesk_oauth.crypto`)."""

from __future__ import annotations

from typing import Any

from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """Holds a ``str`` in Python and Fernet ciphertext in the database.

    Not searchable or orderable by content (the ciphertext is randomized).
    Empty strings are stored as empty strings so "no refresh token" stays cheap
    to test for; ``None`` stays ``NULL``.
    """

    description = "Text encrypted at rest"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def to_python(self, value: Any) -> Any:
        # Form and deserialization input is plaintext already.
        return value
