"""The registry of sandbox profiles: Gorgias and Kustomer built in, more at run time.

:func:`register` adds a profile (a test may define a provider that exists only in
the test suite); it is served at once under ``{base}/{key}/`` by the catch-all
route, with the same engine as the built-in ones. :func:`unregister` removes it.
"""

from __future__ import annotations

import threading

from ..profile import Profile
from . import front, gorgias, helpscout, hubspot, intercom, kustomer, zendesk, zoho_desk

BUILTIN: tuple[Profile, ...] = (
    gorgias.PROFILE,
    kustomer.PROFILE,
    intercom.PROFILE,
    zoho_desk.PROFILE,
    hubspot.PROFILE,
    helpscout.PROFILE,
    front.PROFILE,
    zendesk.PROFILE,
)

_lock = threading.Lock()
_profiles: dict[str, Profile] = {p.key: p for p in BUILTIN}


def register(profile: Profile) -> Profile:
    """Serve ``profile`` from now on (replacing one with its key); returns it."""
    with _lock:
        _profiles[profile.key] = profile
    return profile


def unregister(key: str) -> None:
    """Stop serving the profile ``key`` (a built-in one comes back: it is the default)."""
    with _lock:
        _profiles.pop(key, None)
        for builtin in BUILTIN:
            _profiles.setdefault(builtin.key, builtin)


def get(key: str | None) -> Profile | None:
    """The profile served under ``key``, or ``None``."""
    with _lock:
        return _profiles.get(key or "")


def keys() -> tuple[str, ...]:
    """The keys of every served profile, built-in first."""
    with _lock:
        return tuple(_profiles)


def all_profiles() -> tuple[Profile, ...]:
    """Every served profile."""
    with _lock:
        return tuple(_profiles.values())
