"""A text field stored encrypted (see :mod:`django_helpdesk_oauth.crypto`).

A value no configured key opens does not break the query that loads its row:
the row loads with an :class:`Unreadable` marker in place of the value, and
*reading the attribute* raises :class:`~django_helpdesk_oauth.exceptions.DecryptionError`.
So lists, admin pages and bookkeeping keep working while every path that would
use the secret (a token request, a bearer header) fails with the typed error
before anything is sent. The marker is not a ``str`` and refuses ``str()``, so
it can never be formatted into a header or a request body by accident.

Whatever reads the attribute raises too: ``refresh_from_db()`` of the whole row,
``full_clean()`` without excluding the field, ``bulk_update`` of it. ``save()``
writes the stored ciphertext back unchanged.

Serialization (``dumpdata``) writes the encrypted form, ``"fernet:<token>"``;
``loaddata`` (``to_python``) decrypts exactly that form and leaves any other
string as plaintext.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from . import crypto
from .exceptions import DecryptionError

#: Prefix of an encrypted value in serialized data (fixtures, ``dumpdata``).
SERIALIZED_PREFIX = "fernet:"
# A Fernet token: version byte 0x80 then timestamp, IV, ciphertext, HMAC, URL-safe base64.
_SERIALIZED = re.compile(r"fernet:(gAAAAA[A-Za-z0-9_\-]{50,}={0,2})\Z")
#: What pages and listings show instead of an unreadable secret or token.
UNREADABLE_LABEL = "unreadable — replace it"


class Unreadable:
    """A stored ciphertext that no configured key opens (a wrong or missing key).

    Kept so that saving the row writes the ciphertext back unchanged (fixing the
    key makes it readable again). Not a ``str``: ``str()`` and formatting raise
    :class:`DecryptionError`; ``repr`` names no value.
    """

    __slots__ = ("ciphertext",)

    def __init__(self, ciphertext: str) -> None:
        self.ciphertext = ciphertext

    def __repr__(self) -> str:
        return "<Unreadable encrypted value>"

    def __str__(self) -> str:
        raise DecryptionError(
            "A stored value cannot be decrypted with any configured key; it cannot be used."
        )

    def __format__(self, format_spec: str) -> str:
        return self.__str__()

    def __bool__(self) -> bool:
        return True  # a value is stored; it just cannot be read

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unreadable) and other.ciphertext == self.ciphertext

    def __hash__(self) -> int:
        return hash(self.ciphertext)


class EncryptedAttribute(DeferredAttribute):
    """Reading an unreadable value raises :class:`DecryptionError` naming the row and
    field (never the value). A data descriptor, so it runs on every read."""

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Unreadable):
            raise DecryptionError.for_field(
                instance, self.field, hint=crypto.unreadable_hint(value.ciphertext)
            )
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """Holds a ``str`` in Python and Fernet ciphertext in the database.

    Not searchable or orderable by content (the ciphertext is randomized).
    Empty strings are stored as empty strings so "no refresh token" stays cheap
    to test for; ``None`` stays ``NULL``. A value no key opens loads as
    :class:`Unreadable` (see the module docstring); :func:`is_readable` asks.
    """

    description = "Text encrypted at rest"
    descriptor_class = EncryptedAttribute

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Unreadable):
            return value.ciphertext  # written back exactly as read
        value = models.Field.get_prep_value(self, value)  # resolves lazy strings
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        try:
            return crypto.decrypt(value)
        except DecryptionError:
            return Unreadable(value)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # The raw attribute, so saving a row with an unreadable value keeps its ciphertext
        # (the descriptor would raise).
        value = model_instance.__dict__.get(self.attname)
        if isinstance(value, Unreadable):
            return value
        return super().pre_save(model_instance, add)

    def to_python(self, value: Any) -> Any:
        """Plaintext stays as is; ``"fernet:<token>"`` (what ``dumpdata`` wrote) is decrypted.

        Raises ``ValidationError`` when such a value opens with no configured key.
        """
        if isinstance(value, str):
            match = _SERIALIZED.match(value)
            if match:
                try:
                    return crypto.decrypt(match.group(1))
                except DecryptionError:
                    raise ValidationError(
                        "An encrypted %(field)s cannot be decrypted with any configured key "
                        "(it was written under another ENCRYPTION_KEYS / SECRET_KEY).",
                        code="undecryptable",
                        params={"field": self.verbose_name},
                    ) from None
        return value

    def value_from_object(self, obj: models.Model) -> Any:
        """The raw attribute: an :class:`Unreadable` value is returned, not raised, so
        ``dumpdata`` still writes its ciphertext."""
        if self.attname in obj.__dict__:
            return obj.__dict__[self.attname]
        return super().value_from_object(obj)

    def value_to_string(self, obj: models.Model) -> str:
        """The encrypted form for serializers, ``"fernet:<token>"`` (never the plaintext):
        encrypted afresh with the first key, or the stored ciphertext if unreadable."""
        value = self.value_from_object(obj)
        if value is None or value == "":
            return value
        if isinstance(value, Unreadable):
            return SERIALIZED_PREFIX + value.ciphertext
        return SERIALIZED_PREFIX + crypto.encrypt(str(value))


def is_readable(instance: models.Model, name: str) -> bool:
    """False when ``instance.<name>`` (an encrypted field) cannot be decrypted."""
    try:
        getattr(instance, name)
    except DecryptionError:
        return False
    return True


def masked_value(instance: models.Model, name: str) -> str:
    """``instance.<name>`` masked to its last four characters for display, or
    :data:`UNREADABLE_LABEL` when no configured key opens it."""
    try:
        return crypto.mask(getattr(instance, name))
    except DecryptionError:
        return UNREADABLE_LABEL
