"""Session tokens, invite codes and pairing codes: generation and server-side digests.

Only digests are stored. Session tokens and invite secrets carry 256 and 160 random
bits, so SHA-256 suffices; pairing codes are short, so they are keyed with HMAC
(``app.core.digests.keyed_digest``).
"""

from __future__ import annotations

import hashlib
import secrets

# Crockford-style alphabet without 0/O, 1/I/L, U: easy to read aloud and type on a tablet.
PAIRING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
PAIRING_LENGTH = 8
INVITE_VERSION = "ki1"


def new_session_token() -> str:
    return "kst_" + secrets.token_urlsafe(32)  # 256 random bits


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_invite_code() -> str:
    """``ki1.<secret>``: the version first, so later versions can append fields (e.g. the
    inviting therapist's master key for QR verification) after further dots."""
    return f"{INVITE_VERSION}.{secrets.token_urlsafe(20)}"


def invite_secret(code: str) -> str | None:
    """The secret part of an invite code of a known version, or None if malformed."""
    parts = code.strip().split(".")
    if len(parts) < 2 or parts[0] != INVITE_VERSION or not 20 <= len(parts[1]) <= 64:
        return None
    return parts[1]


def new_pairing_code() -> str:
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_LENGTH))


def normalise_pairing_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")
