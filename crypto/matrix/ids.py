"""Matrix identifiers as Kaari uses them: ``@user:server``, ``!room:server``, opaque device ids."""

from __future__ import annotations

from crypto.matrix.errors import KeyFormatError

_MAX_ID = 255


def _check_sigil(value: object, sigil: str, what: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) > _MAX_ID
        or not value.startswith(sigil)
        or ":" not in value[2:]
        or value.index(":") < 2
    ):
        raise KeyFormatError(f"{what} must look like {sigil}localpart:server")
    return value


def user_id(value: object) -> str:
    """Check a user id ``@local:server`` and return it."""
    return _check_sigil(value, "@", "user id")


def room_id(value: object) -> str:
    """Check a room id ``!opaque:server`` and return it."""
    return _check_sigil(value, "!", "room id")


def device_id(value: object) -> str:
    """Check a device id: a non-empty opaque string without whitespace."""
    if not isinstance(value, str) or not value or len(value) > _MAX_ID or value.split() != [value]:
        raise KeyFormatError("device id must be a non-empty string without whitespace")
    return value
