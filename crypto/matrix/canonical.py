"""Canonical JSON and unpadded base64, as the Matrix specification's appendices define them.

Canonical JSON: UTF-8, object keys sorted by code point, no insignificant whitespace,
no floats, integers within ``[-(2**53)+1, 2**53-1]``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from crypto.matrix.errors import EncodingError

_MAX_SAFE_INT = 2**53 - 1
_MAX_DEPTH = 64
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def b64encode(data: bytes) -> str:
    """Standard base64 without ``=`` padding ("unpadded base64")."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    """Decode standard base64, padded or not; raise :class:`EncodingError` otherwise."""
    if not isinstance(text, str) or not _B64.match(text):
        raise EncodingError("not base64")
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        raise EncodingError("base64 has an impossible length")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncodingError("not base64") from exc


def decode_key(text: object, length: int = 32) -> bytes:
    """Decode a base64 key and check its length."""
    if not isinstance(text, str):
        raise EncodingError("a key must be a string")
    raw = b64decode(text)
    if len(raw) != length:
        raise EncodingError(f"key must be {length} bytes, got {len(raw)}")
    return raw


def _check(value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
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
    _check(value, 0)
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")


def dumps(value: Any) -> bytes:
    """Compact JSON for plaintexts we encrypt (canonical, so it is stable in tests)."""
    return canonical_json(value)


def loads(data: bytes | str) -> Any:
    """Parse JSON; raise :class:`EncodingError` otherwise."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EncodingError("not JSON") from exc


def loads_object(data: bytes | str) -> dict[str, Any]:
    """Parse JSON that must be an object; raise :class:`EncodingError` otherwise."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EncodingError("not JSON") from exc
    if not isinstance(value, dict):
        raise EncodingError("JSON must be an object")
    return value
