"""Accounts on the wire: msgspec Structs with bounds (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from app.cases.schemas import Scope
from app.core.principal import Locale, Role
from app.core.wire import Camel, DeviceName, DisplayName

# Text the server stores is printable: PostgreSQL cannot store NUL, and control
# characters in a name only ever serve to confuse a reader.
Email = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=254,
        pattern=r"^\s*[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+\s*$",
    ),
]
Password = Annotated[str, Meta(min_length=10, max_length=256)]
AnyPassword = Annotated[str, Meta(min_length=1, max_length=256)]
Platform = Literal["ios", "android", "web", "desktop", "cli", "other"]
InviteCode = Annotated[str, Meta(min_length=8, max_length=200)]
PairingCode = Annotated[str, Meta(min_length=6, max_length=20)]


class DeviceInfo(Camel):
    name: DeviceName
    platform: Platform = "other"


class LoginRequest(Camel):
    email: Email
    password: AnyPassword
    device: DeviceInfo


class UserOut(Camel):
    id: UUID
    matrix_user_id: str  # "@<id>:<KAARI_SERVER_NAME>" (docs/matrix-api.md)
    org_id: UUID
    role: Role
    display_name: str
    locale: Locale
    email: str | None


class SessionOut(Camel):
    """A new device session. The token is shown once and never stored by the server."""

    token: str
    device_id: UUID
    user: UserOut


class DeviceOut(Camel):
    id: UUID
    name: str
    platform: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


class ProfileUpdate(Camel):
    display_name: DisplayName | UnsetType = UNSET
    locale: Locale | UnsetType = UNSET


class PasswordChange(Camel):
    current_password: AnyPassword
    new_password: Password


class OrgInviteRequest(Camel):
    role: Literal["therapist", "admin"] = "therapist"


MasterKey = Annotated[str, Meta(min_length=43, max_length=43, pattern=r"^[A-Za-z0-9+/]{43}$")]
"""An Ed25519 public key in unpadded base64 (a Matrix master cross-signing key)."""


class InviteOut(Camel):
    id: UUID
    code: str
    role: str
    case_id: UUID | None
    expires_at: datetime
    # the inviter's Matrix user id and master cross-signing key, for the QR code shown at
    # the first home visit (docs/matrix-api.md); the key is null before the inviter's
    # device uploaded cross-signing keys
    inviter_user_id: str | None = None
    inviter_master_key: str | None = None


class InviteInfo(Camel):
    """A pending invite as its creator sees it (never the code)."""

    id: UUID
    role: str
    scopes: list[str] | None
    created_at: datetime
    expires_at: datetime


class AcceptInvite(Camel):
    code: InviteCode
    email: Email
    password: Password
    display_name: DisplayName
    device: DeviceInfo
    locale: Locale = "fi"
    # from the QR code: refuse (409 inviter_key_mismatch, nothing joined) unless it is the
    # inviter's current master key
    inviter_master_key: MasterKey | None = None


class RedeemInvite(Camel):
    code: InviteCode
    inviter_master_key: MasterKey | None = None


class RedeemOut(Camel):
    case_id: UUID | None
    role: str


class PairingCodeOut(Camel):
    code: str
    expires_at: datetime


class PairRequest(Camel):
    code: PairingCode
    device: DeviceInfo


class OrgUserOut(Camel):
    id: UUID
    role: Role
    display_name: str
    email: str | None
    disabled: bool


class CaseInviteRequest(Camel):
    role: Literal["guardian", "caregiver"] = "guardian"
    scopes: Annotated[list[Scope], Meta(max_length=3)] | None = None


class ResetRequest(Camel):
    email: Email


class ResetAccepted(Camel):
    detail: str
    recovery: str


class ResetComplete(Camel):
    token: Annotated[str, Meta(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
    new_password: Password


class ResetDone(Camel):
    revoked_devices: int
    recovery: str
    """the end-to-end recovery key, not the password, restores message history"""
