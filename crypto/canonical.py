"""Canonical JSON and unpadded base64, as the Matrix specification defines them.

Canonical JSON: UTF-8, object keys sorted by code point, no insignificant
whitespace, no floats, integers within ``[-(2**53)+1, 2**53-1]``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from crypto.errors import EncodingError

_MAX_SAFE_INT = 2**53 - 1
_B64_STD = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_B64_URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


def b64encode(data: bytes) -> str:
    """Standard base64 without ``=`` padding (Matrix "unpadded base64")."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    """Decode standard base64, padded or not; raise :class:`EncodingError` otherwise."""
    return _decode(text, _B64_STD, base64.b64decode)


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding (for QR codes and file names)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Decode URL-safe base64, padded or not; raise :class:`EncodingError` otherwise."""
    return _decode(text, _B64_URL, base64.urlsafe_b64decode)


def _decode(text: str, pattern: re.Pattern[str], decoder: Any) -> bytes:
    if not isinstance(text, str) or not pattern.match(text):
        raise EncodingError("not base64")
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        raise EncodingError("base64 has an impossible length")
    try:
        out: bytes = decoder(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EncodingError("not base64") from exc
    return out


def decode_key(text: str, length: int = 32) -> bytes:
    """Decode a base64 key and check its length."""
    raw = b64decode(text)
    if len(raw) != length:
        raise EncodingError(f"key must be {length} bytes, got {len(raw)}")
    return raw


def _check(value: Any, depth: int = 0) -> None:
    if depth > 64:
        raise EncodingError("JSON nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            raise EncodingError("integer out of the canonical JSON range")
        return
    if isinstance(value, float):
        raise EncodingError("floats are not allowed in canonical JSON")
    if isinstance(value, (list, tuple)):
        for item in value:
            _check(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError("object keys must be strings")
            _check(item, depth + 1)
        return
    raise EncodingError(f"{type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes."""
    _check(value)
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")
