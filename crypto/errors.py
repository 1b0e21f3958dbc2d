"""Exceptions raised by the protocol library.

Every failure is a subclass of :class:`CryptoError`, so a caller can catch the
family; the subclasses say precisely what went wrong.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by :mod:`crypto`."""


class EncodingError(CryptoError):
    """Malformed base64, canonical JSON or wire structure."""


class SignatureError(CryptoError):
    """A signature is missing, malformed or does not verify."""


class BundleError(SignatureError):
    """A device key bundle (or one-time key) is malformed or not self-signed."""


class SessionError(CryptoError):
    """An Olm session could not be created (e.g. unknown or reused one-time key)."""


class DecryptionError(CryptoError):
    """A ciphertext could not be decrypted or authenticated."""


class DuplicateMessageError(DecryptionError):
    """The message (ciphertext or message id) was already processed."""


class BindingError(DecryptionError):
    """The plaintext names another sender or recipient than the envelope."""


class UntrustedKeyShareError(BindingError):
    """A Megolm room key share is refused: its sender may not share it, or the
    origin it names did not sign the session."""


class UnknownSessionError(DecryptionError):
    """No session is known for this ciphertext (Megolm: room key not received)."""


class UnknownMessageIndexError(DecryptionError):
    """A Megolm message precedes the first index known to this inbound session."""


class AttachmentError(DecryptionError):
    """An attachment failed its hash, authentication, size or completeness check."""


class TruncatedAttachmentError(AttachmentError):
    """The attachment stream ended before its final record."""


class VerificationError(CryptoError):
    """Base for QR and SAS verification failures."""


class QrFormatError(VerificationError):
    """The QR payload is not a Kaari invite payload."""


class QrVersionError(VerificationError):
    """The QR payload has an unsupported version."""


class QrExpiredError(VerificationError):
    """The QR payload is past its expiry."""


class QrKeyMismatchError(VerificationError):
    """A key in the QR payload differs from the one expected."""


class QrNonceMismatchError(VerificationError):
    """The QR payload's nonce differs from the invite's nonce."""


class SasError(VerificationError):
    """SAS verification failed (bad key, bad MAC, wrong state)."""


class StoreError(CryptoError):
    """The encrypted key store cannot be read."""


class WrongStoreKeyError(StoreError):
    """The device secret does not open this store."""


class CorruptStoreError(StoreError):
    """A store record failed authentication or decoding."""
