"""The fake users who consent on the sandbox's pages: stable per provider and tenant."""

from __future__ import annotations

import hashlib
from typing import Any, Literal


def user_for(provider: str, tenant: str, id_kind: Literal["int", "hex"] = "hex") -> dict[str, Any]:
    """The user who consents for ``tenant``: ``id`` (int or 24 hex digits), ``name``, ``email``."""
    digest = hashlib.sha256(f"{provider}:{tenant}".encode()).hexdigest()
    user_id: Any = int(digest[:6], 16) if id_kind == "int" else digest[:24]
    return {"id": user_id, "name": "Sandbox Admin", "email": f"admin@{tenant}.example.com"}
