"""Encryption of device secrets at rest (no I/O: bytes in, bytes out).

Keys are derived from a high-entropy device secret (16..64 bytes, e.g. 32
random bytes kept in the OS keychain) and a per-store random salt with keyed
BLAKE2b (libsodium ``crypto_generichash``), one derivation per purpose:

* ``pickle_key`` (32 bytes): vodozemac pickles (its own AES+HMAC).
* ``record_key`` (32 bytes): XChaCha20-Poly1305 over every stored record, with
  the record's name as associated data (a record cannot be swapped for another).
* ``key_check``: a 32-byte tag stored beside the salt, so a wrong secret is
  reported as :class:`WrongStoreKeyError` and not as corruption.
* ``tag_key`` (32 bytes): keyed BLAKE2b tags (:meth:`StoreKeys.tag`) that stand
  for values the store must look up without revealing them: record names
  derived from peer keys, case and session ids, and the seen ciphertexts and
  message ids used for duplicate detection.

Any failure raises :class:`StoreError` (never returns garbage).
"""

from __future__ import annotations

import hmac
import secrets

import nacl.bindings as sodium
import nacl.encoding
import nacl.exceptions
import nacl.hash

from crypto.errors import CorruptStoreError, StoreError, WrongStoreKeyError

SALT_BYTES = 16
_PERSON = b"kaari.store.v1"
_RECORD_MAGIC = b"KS1"
_NONCE = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


def _derive(secret: bytes, salt: bytes, purpose: bytes) -> bytes:
    return nacl.hash.blake2b(
        purpose,
        digest_size=32,
        key=secret,
        salt=salt,
        person=_PERSON,
        encoder=nacl.encoding.RawEncoder,
    )


class StoreKeys:
    """The keys of one store, derived from the device secret and the store's salt."""

    def __init__(self, secret: bytes, salt: bytes) -> None:
        if not 16 <= len(secret) <= 64:
            raise StoreError("the device secret must be 16 to 64 bytes")
        if len(salt) != SALT_BYTES:
            raise StoreError(f"the store salt must be {SALT_BYTES} bytes")
        self.salt = salt
        self.pickle_key = _derive(secret, salt, b"pickle")
        self.record_key = _derive(secret, salt, b"record")
        self.key_check = _derive(secret, salt, b"check")
        self.tag_key = _derive(secret, salt, b"tag")

    @staticmethod
    def new_salt() -> bytes:
        return secrets.token_bytes(SALT_BYTES)

    def check(self, stored_key_check: bytes) -> None:
        """Raise :class:`WrongStoreKeyError` unless this secret opened the store before."""
        if not hmac.compare_digest(self.key_check, stored_key_check):
            raise WrongStoreKeyError("wrong device secret for this key store")

    def tag(self, kind: str, value: str, size: int = 16) -> bytes:
        """Keyed BLAKE2b of ``kind`` and ``value``: stable per store, opaque without the secret."""
        return nacl.hash.blake2b(
            kind.encode("utf-8") + b"\x00" + value.encode("utf-8"),
            digest_size=size,
            key=self.tag_key,
            person=_PERSON,
            encoder=nacl.encoding.RawEncoder,
        )

    def seal(self, name: str, data: bytes) -> bytes:
        """Encrypt one record; ``name`` is authenticated."""
        nonce = secrets.token_bytes(_NONCE)
        aad = _RECORD_MAGIC + name.encode("utf-8")
        return (
            _RECORD_MAGIC
            + nonce
            + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(data, aad, nonce, self.record_key)
        )

    def open(self, name: str, blob: bytes) -> bytes:
        """Decrypt one record or raise :class:`CorruptStoreError`."""
        if len(blob) < len(_RECORD_MAGIC) + _NONCE + 16 or not blob.startswith(_RECORD_MAGIC):
            raise CorruptStoreError(f"store record {name!r} is truncated or not a record")
        nonce = blob[len(_RECORD_MAGIC) : len(_RECORD_MAGIC) + _NONCE]
        aad = _RECORD_MAGIC + name.encode("utf-8")
        try:
            return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                blob[len(_RECORD_MAGIC) + _NONCE :], aad, nonce, self.record_key
            )
        except nacl.exceptions.CryptoError as exc:
            raise CorruptStoreError(f"store record {name!r} failed authentication") from exc
