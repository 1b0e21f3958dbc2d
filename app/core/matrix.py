"""Matrix ids and error codes, as every domain of the Matrix-shaped device API speaks them.

A user is ``@<user uuid>:<server name>``, a room (a Kaari thread) ``!<thread uuid>:<server
name>``, a device id is the Kaari device id (a UUID string). ``KAARI_SERVER_NAME`` names
the server. An id of another server, or one whose local part is not a UUID, is nobody.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from app.core.errors import KaariError

#: the algorithm of the one-time and fallback keys Kaari's devices upload
SIGNED_CURVE25519 = "signed_curve25519"


@dataclass(frozen=True, slots=True)
class MatrixIds:
    server_name: str

    def user(self, user_id: UUID) -> str:
        return f"@{user_id}:{self.server_name}"

    def room(self, room_id: UUID) -> str:
        return f"!{room_id}:{self.server_name}"

    def parse_user(self, text: str) -> UUID | None:
        return self._parse(text, "@")

    def parse_room(self, text: str) -> UUID | None:
        return self._parse(text, "!")

    def _parse(self, text: str, sigil: str) -> UUID | None:
        if not text.startswith(sigil) or len(text) > 255:
            return None
        local, sep, server = text[1:].partition(":")
        if not sep or server != self.server_name or len(local) != 36:
            return None
        try:
            parsed = uuid.UUID(local)
        except ValueError:
            return None
        return parsed if str(parsed) == local else None


def parse_device(text: str) -> UUID | None:
    """A Kaari device id as a Matrix device id (the UUID's canonical text), else None."""
    if len(text) != 36:
        return None
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    return parsed if str(parsed) == text else None


# errcode of each HTTP status when the error names none (the Matrix paths answer both
# Kaari's problem fields and Matrix's errcode/error; app/errors.py renders them)
ERRCODES = {
    400: "M_BAD_JSON",
    401: "M_UNKNOWN_TOKEN",
    403: "M_FORBIDDEN",
    404: "M_NOT_FOUND",
    405: "M_UNRECOGNIZED",
    409: "M_UNKNOWN",
    410: "M_UNKNOWN",
    413: "M_TOO_LARGE",
    415: "M_NOT_JSON",
    422: "M_INVALID_PARAM",
    429: "M_LIMIT_EXCEEDED",
    500: "M_UNKNOWN",
}


class MatrixError(KaariError):
    """An error with a Matrix ``errcode`` (and Kaari's stable ``code``)."""

    def __init__(
        self,
        status: int,
        errcode: str,
        detail: str,
        *,
        code: str,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(
            detail, code=code, status=status, extra={"errcode": errcode, **(extra or {})}
        )
        self.title = detail
