"""Errors raised by the Matrix device protocol.

Every refusal carries a short stable ``code`` so that callers (the client, tests,
logs) can tell the reasons apart without parsing messages.
"""

from __future__ import annotations


class MatrixCryptoError(Exception):
    """Base class of every error of :mod:`crypto.matrix`."""

    code = "crypto_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class EncodingError(MatrixCryptoError):
    """Malformed base64, JSON or key encoding."""

    code = "bad_encoding"


class SignatureError(MatrixCryptoError):
    """A signature is missing, malformed or does not verify."""

    code = "bad_signature"


class KeyFormatError(MatrixCryptoError):
    """A key object (device keys, one-time key, cross-signing key) has the wrong shape."""

    code = "bad_key"


class EventRefused(MatrixCryptoError):
    """A decrypted event failed a check (forged sender, wrong recipient, wrong room...)."""

    code = "event_refused"


class OlmDecryptionError(MatrixCryptoError):
    """An Olm message could not be decrypted (no session, wedged session, replay)."""

    code = "olm_undecryptable"


class MegolmDecryptionError(MatrixCryptoError):
    """A Megolm room event could not be decrypted (unknown session, bad index...)."""

    code = "megolm_undecryptable"


class ReplayError(MegolmDecryptionError):
    """A Megolm message index was already used by a different event."""

    code = "replayed"


class NoSessionError(MatrixCryptoError):
    """No Olm session with a device, and no claimed one-time key to start one."""

    code = "no_olm_session"


class RecoveryKeyError(EncodingError):
    """A recovery (backup decryption) key does not decode: wrong prefix, parity or length."""

    code = "bad_recovery_key"


class BackupError(MatrixCryptoError):
    """A key backup entry could not be decrypted or has the wrong shape."""

    code = "bad_backup"


class KeyWithheldError(MegolmDecryptionError):
    """The sender told us (``m.room_key.withheld``) that it will not share this session."""

    code = "withheld"

    def __init__(self, message: str, withheld_code: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.withheld_code = withheld_code
        self.reason = reason
