"""Typed helpers for the parts of vodozemac that its type stub gets wrong.

The stub shipped with vodozemac 0.10 omits ``Account.generate_fallback_key`` and
``Account.fallback_key`` and declares ``SasBytes.emoji_indices`` as
``list[int]`` although it returns ``bytes``. Each gap is wrapped here once.
"""

from __future__ import annotations

import vodozemac


def generate_fallback_key(account: vodozemac.Account) -> None:
    """Create a new fallback key (the previous one stays usable until the next rotation)."""
    # Exists at runtime (checked with dir()); missing from vodozemac/__init__.pyi.
    account.generate_fallback_key()  # type: ignore[attr-defined]


def unpublished_fallback_key(
    account: vodozemac.Account,
) -> dict[str, vodozemac.Curve25519PublicKey]:
    """The fallback key not yet marked as published, keyed by key id (empty if none)."""
    # Exists at runtime; missing from the stub.
    keys: dict[str, vodozemac.Curve25519PublicKey] = account.fallback_key  # type: ignore[attr-defined]
    return dict(keys)


def emoji_indices(sas_bytes: vodozemac.SasBytes) -> tuple[int, ...]:
    """The seven emoji indices (0..63); the binding returns ``bytes``."""
    raw: object = sas_bytes.emoji_indices
    if isinstance(raw, (bytes, bytearray)):
        return tuple(raw)
    return tuple(int(x) for x in raw)  # type: ignore[attr-defined]
