"""Server-side key backup, ``m.megolm_backup.v1.curve25519-aes-sha2``.

The backup key is a Curve25519 key pair; its private half is shown to the user as the
recovery key (spec appendix "Cryptographic key representation": ``0x8B 0x01`` + key +
XOR parity byte, base58, a space every four characters). Each session is backed up as
``session_data = {ephemeral, ciphertext, mac}``: ECDH with a fresh ephemeral key, HKDF,
AES-256-CBC of the ``BackedUpSessionData`` JSON, and the MAC every implementation
computes over the *empty* string (libolm's bug, kept by the spec and by vodozemac's
``PkEncryption``, which this module uses).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import vodozemac

from crypto.matrix.canonical import b64decode, b64encode, decode_key, dumps, loads_object
from crypto.matrix.errors import BackupError, EncodingError, KeyFormatError, RecoveryKeyError
from crypto.matrix.megolm import InboundRoomSession
from crypto.matrix.room_keys import SessionExport
from crypto.matrix.signing import Signer, has_valid_signature, sign_json

BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_PREFIX = b"\x8b\x01"


def base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_ALPHABET[rem])
    leading = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading + "".join(reversed(out))


def base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _INDEX:
            raise RecoveryKeyError(f"{char!r} is not a base58 character")
        number = number * 58 + _INDEX[char]
    leading = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading + body


def encode_recovery_key(private_key: bytes) -> str:
    """The user-facing form of a 32-byte backup decryption key."""
    if len(private_key) != 32:
        raise RecoveryKeyError("a backup decryption key is 32 bytes")
    raw = _PREFIX + private_key
    parity = 0
    for byte in raw:
        parity ^= byte
    text = base58_encode(raw + bytes([parity]))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def decode_recovery_key(text: str) -> bytes:
    """The 32-byte key from its user-facing form; raise :class:`RecoveryKeyError`."""
    raw = base58_decode("".join(text.split()))
    if len(raw) != len(_PREFIX) + 32 + 1:
        raise RecoveryKeyError("a recovery key decodes to 35 bytes")
    if raw[:2] != _PREFIX:
        raise RecoveryKeyError("not a recovery key (wrong prefix)")
    parity = 0
    for byte in raw:
        parity ^= byte
    if parity:
        raise RecoveryKeyError("the recovery key has a typo (parity check failed)")
    return raw[2:-1]


class BackupEncryptor:
    """Encrypts sessions to a backup's public key (any device of the user may hold one)."""

    def __init__(self, public_key: str) -> None:
        try:
            decode_key(public_key)
            self._pk = vodozemac.PkEncryption.from_key(
                vodozemac.Curve25519PublicKey.from_base64(public_key)
            )
        except (EncodingError, vodozemac.KeyException) as exc:
            raise KeyFormatError(f"bad backup public key: {exc}") from exc
        self.public_key = public_key

    def encrypt_session_data(self, plaintext: Mapping[str, Any]) -> dict[str, str]:
        message = self._pk.encrypt(dumps(plaintext))
        return {
            "ephemeral": b64encode(message.ephemeral_key),
            "ciphertext": b64encode(message.ciphertext),
            "mac": b64encode(message.mac),
        }

    def key_backup_data(self, session: InboundRoomSession, is_verified: bool) -> dict[str, Any]:
        """One ``KeyBackupData`` for ``PUT room_keys/keys``."""
        export = session.export()
        return {
            "first_message_index": session.first_known_index,
            "forwarded_count": len(session.forwarding_chain) or int(session.imported),
            "is_verified": is_verified,
            "session_data": self.encrypt_session_data(export.backup_json()),
        }

    def keys_body(
        self, sessions: Iterable[InboundRoomSession], verified: Mapping[str, bool] | None = None
    ) -> dict[str, Any]:
        """``{"rooms": {room: {"sessions": {id: KeyBackupData}}}}`` for ``PUT room_keys/keys``."""
        rooms: dict[str, dict[str, Any]] = {}
        for session in sessions:
            is_verified = bool(verified and verified.get(session.session_id))
            rooms.setdefault(session.room_id, {"sessions": {}})["sessions"][session.session_id] = (
                self.key_backup_data(session, is_verified)
            )
        return {"rooms": rooms}


@dataclass(frozen=True)
class RestoredSession:
    export: SessionExport
    first_message_index: int
    is_verified: bool


class BackupDecryptionKey:
    """The private backup key (the user's recovery key)."""

    def __init__(self, private_key: bytes) -> None:
        if len(private_key) != 32:
            raise RecoveryKeyError("a backup decryption key is 32 bytes")
        self._secret = private_key
        self._pk = vodozemac.PkDecryption.from_key(
            vodozemac.Curve25519SecretKey.from_bytes(private_key)
        )

    @classmethod
    def generate(cls) -> BackupDecryptionKey:
        return cls(vodozemac.Curve25519SecretKey().to_bytes())

    @classmethod
    def from_recovery_key(cls, text: str) -> BackupDecryptionKey:
        return cls(decode_recovery_key(text))

    @classmethod
    def from_base64(cls, text: str) -> BackupDecryptionKey:
        """From the base64 form (the ``m.megolm_backup.v1`` secret, Rust's ``toBase64``)."""
        return cls(decode_key(text))

    def to_base64(self) -> str:
        return b64encode(self._secret)

    @property
    def recovery_key(self) -> str:
        return encode_recovery_key(self._secret)

    @property
    def public_key(self) -> str:
        return self._pk.public_key.to_base64()

    def encryptor(self) -> BackupEncryptor:
        return BackupEncryptor(self.public_key)

    def auth_data(self) -> dict[str, Any]:
        return {"public_key": self.public_key}

    def version_body(self, *signers: tuple[str, str, Signer]) -> dict[str, Any]:
        """``POST room_keys/version`` body, ``auth_data`` signed by each signer."""
        auth = self.auth_data()
        for entity, key_id, signer in signers:
            auth = sign_json(auth, entity, key_id, signer)
        return {"algorithm": BACKUP_ALGORITHM, "auth_data": auth}

    def decrypt_session_data(self, session_data: Mapping[str, Any]) -> dict[str, Any]:
        """The ``BackedUpSessionData`` JSON of one backup entry; raise :class:`BackupError`."""
        try:
            message = vodozemac.Message(
                b64decode(str(session_data["ciphertext"])),
                b64decode(str(session_data["mac"])),
                b64decode(str(session_data["ephemeral"])),
            )
            return loads_object(self._pk.decrypt(message))
        except (KeyError, EncodingError, ValueError) as exc:
            raise BackupError(f"backup entry does not decrypt: {exc}") from exc

    def restore(self, response: Mapping[str, Any]) -> list[RestoredSession]:
        """Decrypt a ``GET room_keys/keys`` answer; entries that fail raise :class:`BackupError`."""
        rooms = response.get("rooms")
        if not isinstance(rooms, Mapping):
            raise BackupError("a backup answer has rooms")
        out = []
        for room_id, room in rooms.items():
            sessions = room.get("sessions") if isinstance(room, Mapping) else None
            if not isinstance(sessions, Mapping):
                raise BackupError("a backed-up room has sessions")
            for session_id, data in sessions.items():
                if not isinstance(data, Mapping) or not isinstance(
                    data.get("session_data"), Mapping
                ):
                    raise BackupError("a backup entry has session_data")
                plain = self.decrypt_session_data(data["session_data"])
                try:
                    export = SessionExport.parse(plain, room_id, session_id)
                except KeyFormatError as exc:
                    raise BackupError(f"backup entry: {exc}") from exc
                index = data.get("first_message_index")
                out.append(
                    RestoredSession(
                        export,
                        index if isinstance(index, int) else 0,
                        data.get("is_verified") is True,
                    )
                )
        return out


def auth_data_signed_by(
    auth_data: Mapping[str, Any], entity: str, key_id: str, public_key: str
) -> bool:
    """Whether a backup's ``auth_data`` carries a valid signature (device or master key)."""
    return has_valid_signature(auth_data, entity, key_id, public_key)
