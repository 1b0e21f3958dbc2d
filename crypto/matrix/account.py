"""The device's Olm account: identity keys, signed device keys, one-time and fallback keys.

Key-count-driven top-up follows the Rust machine: after each ``keys/upload`` answer or
sync, when the server holds fewer than the account's maximum of one-time keys, new ones
are generated for the next upload. The fallback key is rotated when the server reports
it used (absent from ``device_unused_fallback_key_types``) or when it is a week old.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import vodozemac

from crypto.matrix import ids
from crypto.matrix.canonical import dumps, loads_object
from crypto.matrix.device_keys import (
    DEVICE_ALGORITHMS,
    SIGNED_CURVE25519,
    DeviceKeys,
    parse_device_keys,
)
from crypto.matrix.errors import EncodingError
from crypto.matrix.signing import sign_json

FALLBACK_MAX_AGE_MS = 7 * 24 * 3600 * 1000
_PICKLE_VERSION = 1


def now_ms() -> int:
    return int(time.time() * 1000)


class DeviceAccount:
    """One device's long-term Olm account, with what the server last said about its keys."""

    def __init__(
        self,
        user_id: str,
        device_id: str,
        account: vodozemac.Account | None = None,
        *,
        uploaded_key_count: int = 0,
        fallback_created_ms: int | None = None,
        shared: bool = False,
    ) -> None:
        self.user_id = ids.user_id(user_id)
        self.device_id = ids.device_id(device_id)
        self.inner = account if account is not None else vodozemac.Account()
        self.uploaded_key_count = uploaded_key_count
        self.fallback_created_ms = fallback_created_ms
        self.shared = shared

    # -- identity -------------------------------------------------------------------------

    @property
    def curve25519(self) -> str:
        return self.inner.curve25519_key.to_base64()

    @property
    def ed25519(self) -> str:
        return self.inner.ed25519_key.to_base64()

    @property
    def signing_key_id(self) -> str:
        return f"ed25519:{self.device_id}"

    def sign(self, message: bytes) -> str:
        """Sign bytes with the device's Ed25519 key (unpadded base64)."""
        return self.inner.sign(message).to_base64()

    def sign_json(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Sign a JSON object as this device (``signatures[user][ed25519:DEVICE]``)."""
        return sign_json(obj, self.user_id, self.signing_key_id, self.sign)

    def device_keys_json(self) -> dict[str, Any]:
        """The self-signed device keys object for ``keys/upload``."""
        return self.sign_json(
            {
                "user_id": self.user_id,
                "device_id": self.device_id,
                "algorithms": list(DEVICE_ALGORITHMS),
                "keys": {
                    f"curve25519:{self.device_id}": self.curve25519,
                    f"ed25519:{self.device_id}": self.ed25519,
                },
            }
        )

    def device_keys(self) -> DeviceKeys:
        return parse_device_keys(self.device_keys_json(), self.user_id, self.device_id)

    # -- one-time and fallback keys -------------------------------------------------------

    def _signed_key(self, key: vodozemac.Curve25519PublicKey, fallback: bool) -> dict[str, Any]:
        obj: dict[str, Any] = {"key": key.to_base64()}
        if fallback:
            obj["fallback"] = True
        return self.sign_json(obj)

    def _fallback_key(self) -> dict[str, vodozemac.Curve25519PublicKey]:
        # Exists at runtime; missing from vodozemac 0.10's type stub.
        keys: dict[str, vodozemac.Curve25519PublicKey] = self.inner.fallback_key  # type: ignore[attr-defined]
        return dict(keys)

    def signed_one_time_keys(self) -> dict[str, dict[str, Any]]:
        """The unpublished one-time keys as ``{"signed_curve25519:<id>": {key, signatures}}``."""
        return {
            f"{SIGNED_CURVE25519}:{key_id}": self._signed_key(key, fallback=False)
            for key_id, key in self.inner.one_time_keys.items()
        }

    def signed_fallback_keys(self) -> dict[str, dict[str, Any]]:
        """The unpublished fallback key, with ``fallback: true`` (empty when published)."""
        return {
            f"{SIGNED_CURVE25519}:{key_id}": self._signed_key(key, fallback=True)
            for key_id, key in self._fallback_key().items()
        }

    def generate_one_time_keys_if_needed(self) -> int:
        """Top up to the maximum the server should hold; the number generated (0 if none)."""
        if self.inner.one_time_keys:
            return 0  # the last batch was never uploaded: upload it first
        missing = self.inner.max_number_of_one_time_keys - self.uploaded_key_count
        if missing <= 0:
            return 0
        self.inner.generate_one_time_keys(missing)
        return missing

    def rotate_fallback_key_if_needed(self, used: bool, at_ms: int | None = None) -> bool:
        """New fallback key when the old one was used, is a week old, or there is none."""
        at = now_ms() if at_ms is None else at_ms
        if self._fallback_key():
            return False  # an unpublished one is waiting for upload
        expired = (
            self.fallback_created_ms is None or at - self.fallback_created_ms > FALLBACK_MAX_AGE_MS
        )
        if not (used or expired):
            return False
        # Exists at runtime; missing from the stub. vodozemac keeps the previous key too.
        self.inner.generate_fallback_key()  # type: ignore[attr-defined]
        self.fallback_created_ms = at
        return True

    def update_key_counts(
        self,
        one_time_key_counts: Mapping[str, int],
        unused_fallback_key_types: Sequence[str] | None = None,
        at_ms: int | None = None,
    ) -> None:
        """Digest ``device_one_time_keys_count``/``device_unused_fallback_key_types`` of a sync.

        A missing count means zero (sync v2 semantics). ``None`` for the fallback types
        means the server said nothing about fallback keys.
        """
        count = one_time_key_counts.get(SIGNED_CURVE25519, 0)
        self.uploaded_key_count = count if isinstance(count, int) and count >= 0 else 0
        self.generate_one_time_keys_if_needed()
        if unused_fallback_key_types is not None or self.fallback_created_ms is not None:
            used = (
                unused_fallback_key_types is not None
                and SIGNED_CURVE25519 not in unused_fallback_key_types
                and self.fallback_created_ms is not None
            )
            self.rotate_fallback_key_if_needed(used, at_ms)

    def keys_upload_body(self) -> dict[str, Any] | None:
        """The ``POST keys/upload`` body, or ``None`` when there is nothing new to upload."""
        if not self.shared:
            self.generate_one_time_keys_if_needed()
            self.rotate_fallback_key_if_needed(used=False)
        body: dict[str, Any] = {}
        if not self.shared:
            body["device_keys"] = self.device_keys_json()
        otks = self.signed_one_time_keys()
        if otks:
            body["one_time_keys"] = otks
        fallback = self.signed_fallback_keys()
        if fallback:
            body["fallback_keys"] = fallback
        return body or None

    def on_keys_upload_response(self, response: Mapping[str, Any]) -> None:
        """After a successful upload: keys are published, the count is what the server says."""
        self.shared = True
        self.inner.mark_keys_as_published()
        counts = response.get("one_time_key_counts")
        count = counts.get(SIGNED_CURVE25519, 0) if isinstance(counts, Mapping) else 0
        self.uploaded_key_count = count if isinstance(count, int) else 0

    # -- persistence ----------------------------------------------------------------------

    def pickle(self, pickle_key: bytes) -> str:
        """Serialise; the vodozemac part is encrypted with the 32-byte ``pickle_key``."""
        return dumps(
            {
                "v": _PICKLE_VERSION,
                "user_id": self.user_id,
                "device_id": self.device_id,
                "account": self.inner.pickle(pickle_key),
                "uploaded_key_count": self.uploaded_key_count,
                "fallback_created_ms": self.fallback_created_ms,
                "shared": self.shared,
            }
        ).decode()

    @classmethod
    def from_pickle(cls, data: str, pickle_key: bytes) -> DeviceAccount:
        obj = loads_object(data)
        if obj.get("v") != _PICKLE_VERSION:
            raise EncodingError("unknown account pickle version")
        try:
            inner = vodozemac.Account.from_pickle(obj["account"], pickle_key)
        except (vodozemac.PickleException, KeyError) as exc:
            raise EncodingError(f"account pickle does not open: {exc}") from exc
        fallback = obj.get("fallback_created_ms")
        return cls(
            obj["user_id"],
            obj["device_id"],
            inner,
            uploaded_key_count=int(obj.get("uploaded_key_count", 0)),
            fallback_created_ms=fallback if isinstance(fallback, int) else None,
            shared=bool(obj.get("shared", False)),
        )
