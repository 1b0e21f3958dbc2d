"""Helpers for the Matrix-API tests: a device with real keys (vodozemac for the device,
pynacl for cross-signing) in the spec's JSON shapes, and short HTTP helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import nacl.signing
from db_support import table_counts
from support import Session

from app.config import Settings
from app.storage.schema_matrix import (
    mx_backup_keys,
    mx_backup_versions,
    mx_cross_signing_keys,
    mx_device_keys,
    mx_fallback_keys,
    mx_key_signatures,
    mx_one_time_keys,
    room_events,
    to_device_messages,
)
from crypto.canonical import b64encode
from crypto.olm import OlmAccount
from crypto.signing import nacl_signer, sign_json

SERVER = "localhost"
V3 = "/_matrix/client/v3"
ALGORITHMS = ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"]
MX_TABLES = (
    mx_device_keys,
    mx_one_time_keys,
    mx_fallback_keys,
    mx_cross_signing_keys,
    mx_key_signatures,
    mx_backup_versions,
    mx_backup_keys,
    room_events,
    to_device_messages,
)


def mxid(user_id: UUID) -> str:
    return f"@{user_id}:{SERVER}"


def room_id(thread_id: UUID | str) -> str:
    return f"!{thread_id}:{SERVER}"


def counts(settings: Settings) -> dict[str, int]:
    return table_counts(settings, MX_TABLES)


@dataclass
class MxDevice:
    session: Session
    account: OlmAccount = field(init=False)

    def __post_init__(self) -> None:
        self.account = OlmAccount.create(self.user, self.device)

    @property
    def user(self) -> str:
        return mxid(self.session.user_id)

    @property
    def device(self) -> str:
        return str(self.session.device_id)

    @property
    def headers(self) -> dict[str, str]:
        return self.session.headers

    def device_keys(self) -> dict[str, Any]:
        obj = {
            "user_id": self.user,
            "device_id": self.device,
            "algorithms": ALGORITHMS,
            "keys": {
                f"curve25519:{self.device}": self.account.curve25519,
                f"ed25519:{self.device}": self.account.ed25519,
            },
        }
        return self.account.sign_json(obj)

    def one_time_keys(self, n: int) -> dict[str, Any]:
        self.account.generate_one_time_keys(n)
        keys = self.account.unpublished_one_time_keys()
        return keys

    def fallback_keys(self) -> dict[str, Any]:
        self.account.generate_fallback_key()
        return self.account.unpublished_fallback_key()

    def upload(self, client: Any, otks: int = 0, *, fallback: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {"device_keys": self.device_keys()}
        if otks:
            body["one_time_keys"] = self.one_time_keys(otks)
        if fallback:
            body["fallback_keys"] = self.fallback_keys()
        r = client.post(f"{V3}/keys/upload", json=body, headers=self.headers)
        assert r.status_code == 200, r.text
        self.account.mark_keys_as_published()
        out: dict[str, Any] = r.json()
        return out


class SigningKey:
    def __init__(self, user: str, usage: str) -> None:
        self.user = user
        self.usage = usage
        self.key = nacl.signing.SigningKey.generate()

    @property
    def public(self) -> str:
        return b64encode(bytes(self.key.verify_key))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public}"

    def sign(self, obj: dict[str, Any]) -> dict[str, Any]:
        return sign_json(obj, self.user, self.key_id, nacl_signer(self.key))

    def key_object(self, signer: SigningKey | None = None) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "user_id": self.user,
            "usage": [self.usage],
            "keys": {self.key_id: self.public},
        }
        return signer.sign(obj) if signer is not None else obj


class CrossSigningSet:
    def __init__(self, user: str) -> None:
        self.master = SigningKey(user, "master")
        self.self_signing = SigningKey(user, "self_signing")
        self.user_signing = SigningKey(user, "user_signing")

    def upload_body(self) -> dict[str, Any]:
        return {
            "master_key": self.master.key_object(),
            "self_signing_key": self.self_signing.key_object(self.master),
            "user_signing_key": self.user_signing.key_object(self.master),
        }
