"""The key directory on the wire.

Signed objects (device bundle, one-time/fallback keys, master key) keep their Matrix
snake_case field names: they are canonical JSON covered by signatures, so they are
decoded as plain Structs without renaming. The envelopes around them are camelCase.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from app.core.wire import Camel

MAX_ONE_TIME_KEYS_PER_UPLOAD = 100
MAX_CLAIM_DEVICES = 100
MAX_QUERY_USERS = 50

Identifier = Annotated[str, Meta(min_length=1, max_length=255)]
KeyName = Annotated[str, Meta(min_length=1, max_length=300)]  # "ed25519:<device or key>"
PublicKey = Annotated[str, Meta(min_length=1, max_length=64)]  # unpadded base64 (43 chars)
Signature = Annotated[str, Meta(min_length=1, max_length=128)]  # unpadded base64 (86 chars)
OneTimeKeyId = Annotated[str, Meta(min_length=1, max_length=90)]  # "signed_curve25519:<id>"
Algorithm = Annotated[str, Meta(min_length=1, max_length=64)]

# {"<user id>": {"<key id>": "<signature>"}}: one signer entity, a few keys
Signatures = Annotated[
    dict[Identifier, Annotated[dict[KeyName, Signature], Meta(min_length=1, max_length=4)]],
    Meta(min_length=1, max_length=1),
]


class Signed(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class DeviceBundle(Signed):
    """The device's self-signed bundle (crypto.identity.verify_device_bundle checks it)."""

    user_id: Identifier
    device_id: Identifier
    algorithms: Annotated[list[Algorithm], Meta(min_length=1, max_length=8)]
    keys: Annotated[dict[KeyName, PublicKey], Meta(min_length=1, max_length=2)]
    signatures: Signatures


class OneTimeKey(Signed):
    """A signed one-time key, or (``fallback: true``) a signed fallback key."""

    key: PublicKey
    signatures: Signatures
    fallback: bool | UnsetType = UNSET


class MasterKeyObject(Signed):
    """A user's self-signed master key (crypto.cross_signing.verify_master_key checks it)."""

    user_id: Identifier
    usage: Annotated[list[Annotated[str, Meta(max_length=32)]], Meta(min_length=1, max_length=4)]
    keys: Annotated[dict[KeyName, PublicKey], Meta(min_length=1, max_length=1)]
    signatures: Signatures


class KeyUpload(Camel):
    """``deviceKeys`` once (repeating it identically is harmless), keys whenever needed."""

    device_keys: DeviceBundle | None = None
    one_time_keys: Annotated[
        dict[OneTimeKeyId, OneTimeKey], Meta(max_length=MAX_ONE_TIME_KEYS_PER_UPLOAD)
    ] = msgspec.field(default_factory=dict)
    fallback_keys: Annotated[dict[OneTimeKeyId, OneTimeKey], Meta(max_length=1)] = msgspec.field(
        default_factory=dict
    )


class KeyCounts(Camel):
    one_time_key_count: int
    fallback_key: bool
    # the fallback key was handed out since it was uploaded: time to rotate it
    fallback_key_used: bool


class ClaimRequest(Camel):
    devices: Annotated[list[UUID], Meta(min_length=1, max_length=MAX_CLAIM_DEVICES)]


class ClaimedKey(Camel):
    user_id: UUID
    key_id: str  # "signed_curve25519:<id>"
    key: dict[str, Any]  # the signed key object, as the device signed it
    fallback: bool


class ClaimResponse(Camel):
    # device id -> its claimed key; devices the caller may not reach, or without keys, are absent
    one_time_keys: dict[UUID, ClaimedKey]


class QueryRequest(Camel):
    user_ids: Annotated[list[UUID], Meta(min_length=1, max_length=MAX_QUERY_USERS)]


class UserKeys(Camel):
    device_list_version: int
    master_key: dict[str, Any] | None
    # device id -> signed bundle (the master key's signature merged in, when there is one)
    devices: dict[UUID, dict[str, Any]]


class QueryResponse(Camel):
    # user id -> keys; users the caller shares no case with are absent
    users: dict[UUID, UserKeys]


class MasterKeyOut(Camel):
    user_id: UUID
    ed25519: str
    device_list_version: int


class DeviceSignatureUpload(Camel):
    """The user's master key's signature over one of the user's own device bundles."""

    device_id: UUID
    signature: Signature


class DeviceSignatureOut(Camel):
    device_id: UUID
    device_list_version: int
