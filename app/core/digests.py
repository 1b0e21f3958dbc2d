"""Keyed digests every domain uses to store a value it must never keep in the clear:
short codes, and the caller's network address (audit trail, rate-limit keys)."""

from __future__ import annotations

import hashlib
import hmac


def keyed_digest(key: str, value: str) -> bytes:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).digest()


def ip_hash(key: str, address: str | None) -> str | None:
    """A pseudonym of ``address`` under ``key``: the same address gives the same value."""
    if not address:
        return None
    return hmac.new(key.encode(), b"ip:" + address.encode(), hashlib.sha256).hexdigest()[:32]
