"""The first-visit QR code: a case invite together with the inviter's master cross-signing key.

The therapist's app shows it at the first home visit; the family's app scans it, joins the
case with the code and verifies the therapist with the key (:mod:`client.matrix.verify`),
so the family never trusts the server for the first key. The payload (docs/matrix-api.md)::

    kaari:invite?v=1&code=<invite code>&user=<inviter's Matrix user id>&mk=<master key>

Each value is percent-encoded (the encoder encodes every reserved character, so ``@``,
``:``, ``+`` and ``/`` travel as ``%40``, ``%3A``, ``%2B``, ``%2F``). The parser is strict:
the four fields exactly once each, nothing else, version 1, each value well formed; a ``+``
is a plus (never a space). A mistake raises :class:`InviteQrError` with a stable ``code``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from crypto.matrix import ids
from crypto.matrix.canonical import b64encode, decode_key
from crypto.matrix.errors import MatrixCryptoError

PREFIX = "kaari:invite?"
VERSION = "1"
FIELDS = ("v", "code", "user", "mk")
#: Far above a real payload (about 200 characters); a QR code is read into memory whole.
MAX_LENGTH = 1024
_CODE = re.compile(r"[A-Za-z0-9._~-]{8,200}")
_MASTER_KEY = re.compile(r"[A-Za-z0-9+/]{43}")


class InviteQrError(ValueError):
    """The scanned text is not a first-visit QR code Kaari can use.

    ``code``: ``not_kaari_invite``, ``too_long``, ``malformed``, ``missing_field``,
    ``duplicate_field``, ``unknown_field``, ``unsupported_version``, ``bad_code``,
    ``bad_user``, ``bad_master_key``, ``no_master_key`` (an invite answer without a key).
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class InviteQr:
    code: str
    #: The inviter's Matrix user id (``@uuid:server``).
    inviter_user_id: str
    #: The inviter's master cross-signing key (unpadded base64 Ed25519).
    inviter_master_key: str

    def __post_init__(self) -> None:
        _check_code(self.code)
        _check_user(self.inviter_user_id)
        _check_master_key(self.inviter_master_key)

    @classmethod
    def from_invite(cls, answer: Mapping[str, Any]) -> InviteQr:
        """From the ``POST /cases/{id}/invites`` answer (camelCase JSON)."""
        master_key = answer.get("inviterMasterKey")
        if master_key is None:
            raise InviteQrError(
                "the inviter has no cross-signing keys yet: set them up, then create the invite",
                "no_master_key",
            )
        return cls(
            _text(answer.get("code"), "code"),
            _text(answer.get("inviterUserId"), "user"),
            _text(master_key, "mk"),
        )

    def encode(self) -> str:
        """The text to put into the QR code."""
        values = (VERSION, self.code, self.inviter_user_id, self.inviter_master_key)
        return PREFIX + "&".join(
            f"{name}={quote(value, safe='')}" for name, value in zip(FIELDS, values, strict=True)
        )


def parse_invite_qr(text: str) -> InviteQr:
    """The invite in a scanned QR code; :class:`InviteQrError` for anything else."""
    if len(text) > MAX_LENGTH:
        raise InviteQrError("the QR code is too long to be a Kaari invite", "too_long")
    text = text.strip()
    if not text.startswith(PREFIX):
        raise InviteQrError("this QR code is not a Kaari invite", "not_kaari_invite")
    values: dict[str, str] = {}
    for part in text[len(PREFIX) :].split("&"):
        name, sep, raw = part.partition("=")
        if not sep or not name:
            raise InviteQrError(f"malformed field {part!r} in the invite QR code", "malformed")
        if name not in FIELDS:
            raise InviteQrError(f"unknown field {name!r} in the invite QR code", "unknown_field")
        if name in values:
            raise InviteQrError(f"field {name!r} twice in the invite QR code", "duplicate_field")
        try:
            values[name] = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise InviteQrError(f"field {name!r} is not valid UTF-8", "malformed") from None
    missing = [name for name in FIELDS if name not in values]
    if missing:
        raise InviteQrError(f"the invite QR code lacks {', '.join(missing)}", "missing_field")
    if values["v"] != VERSION:
        raise InviteQrError(
            f"invite QR version {values['v']!r} is not supported; update the app",
            "unsupported_version",
        )
    return InviteQr(values["code"], values["user"], values["mk"])


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InviteQrError(f"the invite has no {name}", "missing_field")
    return value


def _check_code(code: str) -> None:
    if not _CODE.fullmatch(code):
        raise InviteQrError("the invite code in the QR code is malformed", "bad_code")


def _check_user(user_id: str) -> None:
    try:
        ids.user_id(user_id)
    except MatrixCryptoError as exc:
        raise InviteQrError(f"the inviter in the QR code: {exc}", "bad_user") from exc


def _check_master_key(key: str) -> None:
    ok = bool(_MASTER_KEY.fullmatch(key))
    if ok:
        try:
            ok = b64encode(decode_key(key)) == key  # canonical: no stray trailing bits
        except MatrixCryptoError:
            ok = False
    if not ok:
        raise InviteQrError(
            "the master key in the QR code is not an unpadded base64 Ed25519 key",
            "bad_master_key",
        )
