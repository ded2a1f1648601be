"""Encryption at rest: Fernet/MultiFernet over ``HELPDESK_OAUTH["ENCRYPTION_KEYS"]``.

The first key encrypts; every key decrypts, so keys rotate by prepending a new
one, running ``helpdesk_oauth_rekey`` and then dropping the old one. Without
``ENCRYPTION_KEYS`` the keys are derived from ``SECRET_KEY`` (encrypts) and
``SECRET_KEY_FALLBACKS`` (decrypt only). A value no key can open raises
:class:`DecryptionError`: returning the ciphertext (as some field packages do)
would send it out as a bearer token.

Moving from the derived keys to ``ENCRYPTION_KEYS`` (docs/security.md, "From
SECRET_KEY to ENCRYPTION_KEYS"): with ``HELPDESK_OAUTH["DECRYPT_WITH_SECRET_KEY"]``
set to ``True`` the derived keys are kept after the ``ENCRYPTION_KEYS``, for
decrypting only, until ``helpdesk_oauth_rekey`` has moved every value; then the
setting is removed. Without it, a value that only a derived key opens raises
:class:`DecryptionError` saying so, with that fix.
"""

from __future__ import annotations

import base64
import hashlib
import threading

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from .conf import app_settings
from .exceptions import ConfigurationError, DecryptionError

_lock = threading.Lock()
_cache: tuple[tuple[str, ...], MultiFernet] | None = None


def derived_key(secret_key: str | bytes | None = None) -> str:
    """A Fernet key derived from ``secret_key`` (default ``SECRET_KEY``): the fallback
    when ``ENCRYPTION_KEYS`` is empty (a system check warns)."""
    secret = settings.SECRET_KEY if secret_key is None else secret_key
    raw = secret.encode() if isinstance(secret, str) else secret
    digest = hashlib.sha256(b"django-helpdesk-oauth:" + raw).digest()
    return base64.urlsafe_b64encode(digest).decode()


def derived_keys() -> tuple[str, ...]:
    """The keys derived from ``SECRET_KEY`` and then each ``SECRET_KEY_FALLBACKS`` entry."""
    return (derived_key(), *(derived_key(old) for old in settings.SECRET_KEY_FALLBACKS if old))


def explicit_keys() -> tuple[str, ...]:
    """``ENCRYPTION_KEYS`` as a tuple (a single string counts as one key); may be empty."""
    keys = app_settings.ENCRYPTION_KEYS
    if isinstance(keys, str):
        keys = [keys]
    return tuple(keys or ())


def decrypts_with_secret_key() -> bool:
    """True when ``ENCRYPTION_KEYS`` are set and ``DECRYPT_WITH_SECRET_KEY`` is ``True``
    (only the boolean: a string such as ``"False"`` keeps it off; check E010 says so)."""
    return bool(explicit_keys()) and app_settings.DECRYPT_WITH_SECRET_KEY is True


def configured_keys() -> tuple[str, ...]:
    """The keys in use, first one encrypting.

    With ``ENCRYPTION_KEYS`` empty: the key derived from ``SECRET_KEY``, then one per
    ``SECRET_KEY_FALLBACKS`` entry, so rotating ``SECRET_KEY`` the way Django documents
    (old key moved to the fallbacks) keeps every value readable until
    ``helpdesk_oauth_rekey`` has moved it to the new key. With ``ENCRYPTION_KEYS``:
    those keys, followed by the derived ones (decrypt only) while
    ``DECRYPT_WITH_SECRET_KEY`` is ``True``.
    """
    keys = explicit_keys()
    if not keys:
        return derived_keys()
    if decrypts_with_secret_key():
        return (*keys, *derived_keys())
    return keys


def opens_with_secret_key(ciphertext: str) -> bool:
    """True when ``ENCRYPTION_KEYS`` are set, the derived keys are not in use and one of
    them opens ``ciphertext``: a value written before ``ENCRYPTION_KEYS`` were set.
    Only called on the error path (one decryption attempt per derived key)."""
    if not explicit_keys() or decrypts_with_secret_key():
        return False
    for key in derived_keys():
        try:
            Fernet(key).decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeError, ValueError, TypeError):
            continue
        return True
    return False


#: The fix, appended to a :class:`DecryptionError` whose value a derived key opens.
SECRET_KEY_HINT = (
    "It was encrypted with the key derived from SECRET_KEY, before "
    'HELPDESK_OAUTH["ENCRYPTION_KEYS"] were set: set HELPDESK_OAUTH["DECRYPT_WITH_SECRET_KEY"] '
    "= True, run helpdesk_oauth_rekey, then remove that setting (see docs/security.md, "
    "'From SECRET_KEY to ENCRYPTION_KEYS')."
)


def unreadable_hint(ciphertext: str) -> str:
    """:data:`SECRET_KEY_HINT` when :func:`opens_with_secret_key`, else ``""``."""
    return SECRET_KEY_HINT if opens_with_secret_key(ciphertext) else ""


def _fernet() -> MultiFernet:
    global _cache
    keys = configured_keys()
    with _lock:
        if _cache is None or _cache[0] != keys:
            try:
                fernets = [Fernet(key) for key in keys]
            except (ValueError, TypeError):
                raise ConfigurationError(
                    'HELPDESK_OAUTH["ENCRYPTION_KEYS"] holds a value that is not a Fernet key '
                    "(32 url-safe base64-encoded bytes; make one with "
                    "cryptography.fernet.Fernet.generate_key())."
                ) from None
            _cache = (keys, MultiFernet(fernets))
        return _cache[1]


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the first configured key."""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """Decrypt a stored value; raise :class:`DecryptionError` if no key opens it."""
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise DecryptionError(
            _with_hint(
                "A stored value cannot be decrypted with any key in "
                'HELPDESK_OAUTH["ENCRYPTION_KEYS"] (was a key removed before re-keying?).',
                ciphertext,
            )
        ) from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt a stored value with the first configured key; raise
    :class:`DecryptionError` if no configured key opens it."""
    try:
        return _fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, ValueError):
        raise DecryptionError(
            _with_hint("A stored value cannot be decrypted with any configured key.", ciphertext)
        ) from None


def _with_hint(message: str, ciphertext: str) -> str:
    hint = unreadable_hint(ciphertext)
    return f"{message} {hint}" if hint else message


def mask(secret: str | None) -> str:
    """Show at most the last four characters of a secret: ``"••••abcd"``."""
    if not secret:
        return ""
    return "••••" + (secret[-4:] if len(secret) >= 12 else "")
