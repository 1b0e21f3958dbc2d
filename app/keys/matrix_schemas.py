"""The key directory's bodies at the Matrix paths, exactly as the client-server spec names
them (snake_case; docs/matrix-api.md).

Signed objects arrive as JSON objects and are kept as the client sent them (unknown
fields included: a signature covers them), after ``msgspec.convert`` into the Structs
below has checked their shape. Request bodies ignore unknown top-level fields, as a
Matrix server does.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

MAX_ONE_TIME_KEYS_PER_UPLOAD = 200
MAX_QUERY_USERS = 100
MAX_CLAIM_DEVICES = 200

MxId = Annotated[str, Meta(min_length=2, max_length=255)]
KeyId = Annotated[str, Meta(min_length=1, max_length=128)]
Base64 = Annotated[str, Meta(min_length=1, max_length=128)]
SignedObject = Annotated[dict[str, Any], Meta(max_length=16)]


class Body(msgspec.Struct, kw_only=True):
    """A Matrix request body: snake_case, unknown fields ignored."""


# the shapes of signed objects (checked, then stored as sent)


class SignaturesShape(msgspec.Struct):
    signatures: Annotated[
        dict[MxId, Annotated[dict[KeyId, Base64], Meta(max_length=8)]], Meta(max_length=4)
    ]


class DeviceKeysShape(SignaturesShape, kw_only=True):
    user_id: MxId
    device_id: Annotated[str, Meta(min_length=1, max_length=64)]
    algorithms: Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=8)]
    keys: Annotated[dict[KeyId, Base64], Meta(min_length=1, max_length=8)]


class KeyShape(SignaturesShape, kw_only=True):
    key: Base64
    fallback: bool = False


class CrossSigningKeyShape(msgspec.Struct, kw_only=True):
    user_id: MxId
    usage: Annotated[list[Annotated[str, Meta(max_length=32)]], Meta(min_length=1, max_length=4)]
    keys: Annotated[dict[KeyId, Base64], Meta(min_length=1, max_length=1)]
    signatures: Annotated[
        dict[MxId, Annotated[dict[KeyId, Base64], Meta(max_length=8)]], Meta(max_length=4)
    ] = msgspec.field(default_factory=dict)


# requests


class KeysUpload(Body):
    device_keys: SignedObject | None = None
    one_time_keys: Annotated[
        dict[KeyId, SignedObject | Base64], Meta(max_length=MAX_ONE_TIME_KEYS_PER_UPLOAD)
    ] = msgspec.field(default_factory=dict)
    fallback_keys: Annotated[dict[KeyId, SignedObject | Base64], Meta(max_length=4)] = (
        msgspec.field(default_factory=dict)
    )


class KeysQuery(Body):
    device_keys: Annotated[
        dict[MxId, Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=100)]],
        Meta(max_length=MAX_QUERY_USERS),
    ]
    timeout: int | None = None


class KeysClaim(Body):
    one_time_keys: Annotated[
        dict[
            MxId,
            Annotated[dict[Annotated[str, Meta(max_length=64)], KeyId], Meta(max_length=50)],
        ],
        Meta(max_length=MAX_QUERY_USERS),
    ]
    timeout: int | None = None


class DeviceSigningUpload(Body):
    master_key: SignedObject | None = None
    self_signing_key: SignedObject | None = None
    user_signing_key: SignedObject | None = None
    auth: Annotated[dict[str, Any], Meta(max_length=16)] | None = None


# {user_id: {key_id: signed object}}
SignaturesUpload = Annotated[
    dict[
        MxId,
        Annotated[dict[Annotated[str, Meta(max_length=128)], SignedObject], Meta(max_length=50)],
    ],
    Meta(max_length=20),
]


# answers (built as plain dicts where the spec's maps are keyed by ids)


class KeysUploadOut(msgspec.Struct):
    one_time_key_counts: dict[str, int]


class KeysQueryOut(msgspec.Struct):
    device_keys: dict[str, dict[str, dict[str, Any]]]
    master_keys: dict[str, dict[str, Any]]
    self_signing_keys: dict[str, dict[str, Any]]
    user_signing_keys: dict[str, dict[str, Any]]
    failures: dict[str, Any] = msgspec.field(default_factory=dict)


class KeysClaimOut(msgspec.Struct):
    one_time_keys: dict[str, dict[str, dict[str, Any]]]
    failures: dict[str, Any] = msgspec.field(default_factory=dict)


class SignaturesUploadOut(msgspec.Struct):
    failures: dict[str, dict[str, dict[str, str]]]


class WhoAmI(msgspec.Struct):
    user_id: str
    device_id: str
    is_guest: bool = False
