"""Human-readable safety numbers: Signal's NumericFingerprint (version 0 hashing).

For each side: ``hash = SHA-512^5200`` iterated over ``hash || public key``,
starting from ``uint16be(0) || public key || stable identifier``. The first 30
bytes give six 5-digit groups (each 40-bit big-endian chunk mod 100000). The
displayed number is the two 30-digit halves, smaller first, so both users see
the same 60 digits. Matches libsignal's published test vectors.

In Kaari the key is the user's Ed25519 master key and the identifier the user
id (UTF-8).
"""

from __future__ import annotations

import hashlib

from crypto.canonical import decode_key

ITERATIONS = 5200
_VERSION = (0).to_bytes(2, "big")


def fingerprint_digits(stable_id: bytes, public_key: bytes, iterations: int = ITERATIONS) -> str:
    """The 30-digit half of one side."""
    digest = _VERSION + public_key + stable_id
    for _ in range(iterations):
        digest = hashlib.sha512(digest + public_key).digest()
    return "".join(
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )


def numeric_fingerprint(
    local_id: bytes,
    local_key: bytes,
    remote_id: bytes,
    remote_key: bytes,
    iterations: int = ITERATIONS,
) -> str:
    """The 60 digits both parties see (identical on both sides)."""
    local = fingerprint_digits(local_id, local_key, iterations)
    remote = fingerprint_digits(remote_id, remote_key, iterations)
    return local + remote if local <= remote else remote + local


def safety_number(user_a: str, master_key_a_b64: str, user_b: str, master_key_b_b64: str) -> str:
    """The safety number of two Kaari users, grouped for display (12 groups of 5)."""
    digits = numeric_fingerprint(
        user_a.encode("utf-8"),
        decode_key(master_key_a_b64),
        user_b.encode("utf-8"),
        decode_key(master_key_b_b64),
    )
    return " ".join(digits[i : i + 5] for i in range(0, 60, 5))
