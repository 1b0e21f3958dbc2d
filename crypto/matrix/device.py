"""One Matrix device on vodozemac: the parts composed, with no I/O.

The caller (the client) plays the request loop the Rust ``OlmMachine`` asks of its app:
it sends the bodies this class builds to their ``/_matrix/client/v3`` paths and hands the
answers back (``on_*_response``), and feeds each sync's to-device events, device-list
changes and key counts to :meth:`MatrixDevice.receive_sync`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crypto.matrix.account import DeviceAccount, now_ms
from crypto.matrix.backup import BackupDecryptionKey, BackupEncryptor
from crypto.matrix.cross_signing import CrossSigningKeys, UserIdentity, signature_upload_body
from crypto.matrix.device_keys import (
    SIGNED_CURVE25519,
    DeviceKeys,
    parse_claimed_key,
    parse_device_keys,
)
from crypto.matrix.directory import DeviceDirectory, DirectoryChanges
from crypto.matrix.errors import (
    EventRefused,
    KeyFormatError,
    KeyWithheldError,
    MatrixCryptoError,
    MegolmDecryptionError,
    NoSessionError,
)
from crypto.matrix.megolm import (
    DecryptedRoomEvent,
    InboundRoomSession,
    InboundSessions,
    OutboundRoomSession,
    RotationPolicy,
)
from crypto.matrix.olm import DecryptedOlmEvent, OlmSessions
from crypto.matrix.room_keys import (
    DUMMY,
    FORWARDED_ROOM_KEY,
    ROOM_KEY,
    ROOM_KEY_REQUEST,
    ROOM_KEY_WITHHELD,
    ForwardedRoomKey,
    RoomKey,
    RoomKeyRequest,
    RoomKeyWithheld,
)
from crypto.matrix.trust import DeviceTrust, device_trust, verify_master_key_from_qr

ENCRYPTED = "m.room.encrypted"
UNWEDGE_INTERVAL_MS = 3600 * 1000


@dataclass(frozen=True)
class ToDeviceResult:
    """One processed to-device event: ``decrypted``, ``plain``, ``refused`` or ``undecryptable``."""

    kind: str
    type: str
    sender: str
    content: Mapping[str, Any]
    olm: DecryptedOlmEvent | None = None
    error: MatrixCryptoError | None = None


@dataclass(frozen=True)
class RoomEvent:
    """A decrypted room event and how far its sender is authenticated."""

    event: DecryptedRoomEvent
    #: The sending device, when the session's keys match a device of the sender we know.
    sender_device: DeviceKeys | None
    trust: DeviceTrust
    #: The session came over Olm from the sender (not forwarded or restored from backup).
    authenticated: bool


@dataclass(frozen=True)
class ToDeviceRequest:
    """A ``PUT sendToDevice/{event_type}/{txn_id}`` with body ``{"messages": ...}``."""

    event_type: str
    txn_id: str
    messages: dict[str, dict[str, Any]]

    def body(self) -> dict[str, Any]:
        return {"messages": self.messages}


def _txn() -> str:
    return secrets.token_urlsafe(12)


class MatrixDevice:
    def __init__(
        self,
        account: DeviceAccount,
        *,
        policy: RotationPolicy | None = None,
    ) -> None:
        self.account = account
        self.policy = policy or RotationPolicy()
        self.olm = OlmSessions()
        self.inbound = InboundSessions()
        self.outbound: dict[str, OutboundRoomSession] = {}
        self.directory = DeviceDirectory()
        self.cross_signing: CrossSigningKeys | None = None
        self.withheld: dict[tuple[str, str], RoomKeyWithheld] = {}
        self.key_requests: list[RoomKeyRequest] = []
        self.backup: BackupEncryptor | None = None
        self.backup_version: str | None = None
        self.backed_up: set[tuple[str, str]] = set()
        self._wedged: dict[str, int] = {}  # peer curve key -> when we last started over
        self._dummies: list[DeviceKeys] = []
        self._withheld_sent: set[tuple[str, str, str]] = set()  # session, user, device
        #: Our own master key as verified out of band (e.g. a QR shown by our other device),
        #: for a device that does not hold the private cross-signing keys.
        self.trusted_own_master: str | None = None

    @classmethod
    def create(cls, user_id: str, device_id: str, **kwargs: Any) -> MatrixDevice:
        return cls(DeviceAccount(user_id, device_id), **kwargs)

    @property
    def user_id(self) -> str:
        return self.account.user_id

    @property
    def device_id(self) -> str:
        return self.account.device_id

    # -- keys/upload, sync ----------------------------------------------------------------

    def keys_upload_body(self) -> dict[str, Any] | None:
        return self.account.keys_upload_body()

    def on_keys_upload_response(self, response: Mapping[str, Any]) -> None:
        self.account.on_keys_upload_response(response)

    def receive_sync(
        self,
        to_device_events: Sequence[Mapping[str, Any]] = (),
        changed: Iterable[str] = (),
        left: Iterable[str] = (),
        one_time_key_counts: Mapping[str, int] | None = None,
        unused_fallback_key_types: Sequence[str] | None = None,
    ) -> list[ToDeviceResult]:
        """Digest the E2E parts of one sync answer; the processed to-device events."""
        self.directory.mark_changed(changed)
        self.directory.mark_left(left)
        if one_time_key_counts is not None:
            self.account.update_key_counts(one_time_key_counts, unused_fallback_key_types)
        return [self._to_device(event) for event in to_device_events]

    def _to_device(self, event: Mapping[str, Any]) -> ToDeviceResult:
        event_type, sender = str(event.get("type")), str(event.get("sender"))
        content = event.get("content")
        if not isinstance(content, Mapping):
            return ToDeviceResult(
                "refused", event_type, sender, {}, None, EventRefused("no content")
            )
        if event_type != ENCRYPTED:
            return self._plain(event_type, sender, content)
        try:
            olm = self.olm.decrypt(self.account, sender, content, self.directory.by_curve)
        except EventRefused as exc:
            return ToDeviceResult("refused", event_type, sender, content, None, exc)
        except MatrixCryptoError as exc:
            if exc.code == "wedged" and isinstance(content.get("sender_key"), str):
                self._wedged.setdefault(str(content["sender_key"]), 0)
            return ToDeviceResult("undecryptable", event_type, sender, content, None, exc)
        try:
            self._olm_event(olm)
        except MatrixCryptoError as exc:
            return ToDeviceResult("refused", olm.type, sender, olm.content, olm, exc)
        return ToDeviceResult("decrypted", olm.type, sender, olm.content, olm)

    def _plain(self, event_type: str, sender: str, content: Mapping[str, Any]) -> ToDeviceResult:
        try:
            if event_type == ROOM_KEY_WITHHELD:
                withheld = RoomKeyWithheld.parse(content)
                if withheld.room_id is not None and withheld.session_id is not None:
                    self.withheld[(withheld.room_id, withheld.session_id)] = withheld
            elif event_type == ROOM_KEY_REQUEST:
                self._key_request(sender, RoomKeyRequest.parse(content))
            elif event_type in (ROOM_KEY, FORWARDED_ROOM_KEY):
                raise EventRefused("room keys are accepted only over Olm", "unencrypted_room_key")
        except MatrixCryptoError as exc:
            return ToDeviceResult("refused", event_type, sender, content, None, exc)
        return ToDeviceResult("plain", event_type, sender, content)

    def _key_request(self, sender: str, request: RoomKeyRequest) -> None:
        if sender != self.user_id:
            return  # key requests are honoured only between a user's own devices
        if request.action == "request_cancellation":
            self.key_requests = [
                r
                for r in self.key_requests
                if (r.request_id, r.requesting_device_id)
                != (request.request_id, request.requesting_device_id)
            ]
        elif request.requesting_device_id != self.device_id:
            self.key_requests.append(request)

    def _olm_event(self, olm: DecryptedOlmEvent) -> None:
        if olm.type == ROOM_KEY:
            key = RoomKey.parse(olm.content)
            session = InboundRoomSession.from_room_key(
                key,
                olm.sender,
                olm.sender_key,
                olm.sender_ed25519,
                olm.sender_device.raw if olm.sender_device else None,
            )
            self.inbound.add(session)
            self.withheld.pop((key.room_id, key.session_id), None)
        elif olm.type == FORWARDED_ROOM_KEY:
            forwarded = ForwardedRoomKey.parse(olm.content)
            device = olm.sender_device
            if (
                olm.sender != self.user_id
                or device is None
                or self.trust(device) is not (DeviceTrust.VERIFIED)
            ):
                raise EventRefused(
                    "forwarded keys are accepted only from our own verified devices",
                    "untrusted_forwarder",
                )
            self.inbound.add(InboundRoomSession.from_forwarded(forwarded, olm.sender_key))
        elif olm.type == DUMMY:
            pass

    # -- keys/query, keys/claim -----------------------------------------------------------

    def track_users(self, users: Iterable[str]) -> None:
        self.directory.track(users)

    def keys_query_body(self) -> dict[str, Any] | None:
        return self.directory.query_body()

    def on_keys_query_response(self, response: Mapping[str, Any]) -> DirectoryChanges:
        changes = self.directory.on_query_response(response)
        gone = {(d.user_id, d.device_id) for d in changes.removed_devices}
        for session in self.outbound.values():
            if gone & set(session.shared_with):
                session.invalidated = True  # a device that had the key left: rotate
        return changes

    def _peers(self, users: Iterable[str]) -> list[DeviceKeys]:
        return [
            device
            for user in users
            for device in self.directory.user_devices(user)
            if (device.user_id, device.device_id) != (self.user_id, self.device_id)
        ]

    def keys_claim_body(self, users: Iterable[str]) -> dict[str, Any] | None:
        """``POST keys/claim`` for devices without a session (or whose session is wedged)."""
        wanted: dict[str, dict[str, str]] = {}
        at = now_ms()
        for device in self._peers(users):
            last = self._wedged.get(device.curve25519)
            needs_new = last is not None and at - last >= UNWEDGE_INTERVAL_MS
            if not self.olm.has_session(device.curve25519) or needs_new:
                wanted.setdefault(device.user_id, {})[device.device_id] = SIGNED_CURVE25519
        return {"one_time_keys": wanted} if wanted else None

    def on_keys_claim_response(self, response: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """Start sessions from the claimed keys; the (user, device, reason) that failed."""
        failed = []
        claimed = response.get("one_time_keys")
        for user, devices in claimed.items() if isinstance(claimed, Mapping) else []:
            for device_id, keys in devices.items() if isinstance(devices, Mapping) else []:
                device = self.directory.device(user, device_id)
                if device is None:
                    failed.append((user, device_id, "unknown_device"))
                    continue
                try:
                    otk = parse_claimed_key(keys, device)
                except KeyFormatError as exc:
                    failed.append((user, device_id, exc.code))
                    continue
                wedged = device.curve25519 in self._wedged
                if self.olm.has_session(device.curve25519) and not wedged:
                    continue  # keep the working session
                self.olm.create_outbound(self.account, device, otk)
                if wedged:
                    self._wedged[device.curve25519] = now_ms()
                    self._dummies.append(device)
        return failed

    def take_dummies(self) -> ToDeviceRequest | None:
        """``m.dummy`` over each newly started session, so the peer learns it (unwedging)."""
        messages: dict[str, dict[str, Any]] = {}
        for device in self._dummies:
            messages.setdefault(device.user_id, {})[device.device_id] = self.olm.encrypt(
                self.account, device, DUMMY, {}
            )
        self._dummies = []
        return ToDeviceRequest(ENCRYPTED, _txn(), messages) if messages else None

    # -- to-device ------------------------------------------------------------------------

    def encrypt_to_device(
        self, user_id: str, device_id: str, event_type: str, content: Mapping[str, Any]
    ) -> dict[str, Any]:
        device = self.directory.device(user_id, device_id)
        if device is None:
            raise NoSessionError(f"unknown device {user_id}/{device_id}")
        return self.olm.encrypt(self.account, device, event_type, content)

    def to_device_request(
        self, targets: Iterable[tuple[str, str]], event_type: str, content: Mapping[str, Any]
    ) -> ToDeviceRequest:
        messages: dict[str, dict[str, Any]] = {}
        for user_id, device_id in targets:
            messages.setdefault(user_id, {})[device_id] = self.encrypt_to_device(
                user_id, device_id, event_type, content
            )
        return ToDeviceRequest(ENCRYPTED, _txn(), messages)

    # -- rooms ----------------------------------------------------------------------------

    def outbound_session(self, room_id: str) -> OutboundRoomSession:
        session = self.outbound.get(room_id)
        if session is None or session.expired(self.policy):
            session = OutboundRoomSession(room_id)
            self.outbound[room_id] = session
            # Our own other devices decrypt our messages with it too; we keep it as well.
            own = InboundRoomSession.from_room_key(
                session.room_key(), self.user_id, self.account.curve25519, self.account.ed25519
            )
            self.inbound.add(own)
        return session

    def invalidate_room_session(self, room_id: str) -> None:
        session = self.outbound.get(room_id)
        if session is not None:
            session.invalidated = True

    def share_room_key(
        self, room_id: str, members: Iterable[str], *, only_verified: bool = False
    ) -> list[ToDeviceRequest]:
        """The to-device requests that give the room's current session to every member device.

        Rotates first when a device that had the session is no longer a member device, and
        with ``only_verified`` when an unverified device had it. With ``only_verified``,
        unverified devices get ``m.room_key.withheld``
        (``m.unverified``); devices without an Olm session get ``m.no_olm``.
        """
        member_list = list(members)
        devices = self._peers(member_list)
        current = {(d.user_id, d.device_id): d.curve25519 for d in devices}
        existing = self.outbound.get(room_id)
        if existing is not None and any(
            current.get(k) != curve
            for k, curve in existing.shared_with.items()
            if k != (self.user_id, self.device_id)
        ):
            existing.invalidated = True
        if (
            existing is not None
            and only_verified
            and any(
                existing.is_shared_with(d.user_id, d.device_id, d.curve25519)
                and self.trust(d) is not DeviceTrust.VERIFIED
                for d in devices
            )
        ):
            existing.invalidated = True  # an unverified device holds it: not for strict sends
        session = self.outbound_session(room_id)
        room_key = session.room_key().content()
        keys: dict[str, dict[str, Any]] = {}
        withheld: dict[str, dict[str, Any]] = {}
        for device in devices:
            if session.is_shared_with(device.user_id, device.device_id, device.curve25519):
                continue
            code = None
            if only_verified and self.trust(device) is not DeviceTrust.VERIFIED:
                code = "m.unverified"
            elif not self.olm.has_session(device.curve25519):
                code = "m.no_olm"
            if code is None:
                keys.setdefault(device.user_id, {})[device.device_id] = self.olm.encrypt(
                    self.account, device, ROOM_KEY, room_key
                )
                session.mark_shared(device.user_id, device.device_id, device.curve25519)
                continue
            marker = (session.session_id, device.user_id, device.device_id)
            if marker not in self._withheld_sent:
                self._withheld_sent.add(marker)
                notice = RoomKeyWithheld(code, self.account.curve25519, room_id, session.session_id)
                withheld.setdefault(device.user_id, {})[device.device_id] = notice.content()
        requests = []
        if keys:
            requests.append(ToDeviceRequest(ENCRYPTED, _txn(), keys))
        if withheld:
            requests.append(ToDeviceRequest(ROOM_KEY_WITHHELD, _txn(), withheld))
        return requests

    def encrypt_room_event(
        self, room_id: str, event_type: str, content: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Encrypt with the room's current session (share it first with :meth:`share_room_key`)."""
        session = self.outbound.get(room_id)
        if session is None or session.expired(self.policy):
            raise NoSessionError("share a room key before encrypting", "no_room_session")
        return session.encrypt(self.account, event_type, content)

    def decrypt_room_event(self, event: Mapping[str, Any], room_id: str) -> RoomEvent:
        try:
            decrypted = self.inbound.decrypt(event, room_id)
        except MegolmDecryptionError as exc:
            content = event.get("content")
            session_id = content.get("session_id") if isinstance(content, Mapping) else None
            notice = self.withheld.get((room_id, str(session_id)))
            if exc.code == "unknown_session" and notice is not None:
                raise KeyWithheldError(
                    f"the sender withheld the key: {notice.code}", notice.code, notice.reason
                ) from exc
            raise
        session = decrypted.session
        device = self.directory.by_curve(decrypted.sender, session.sender_key)
        if device is None and session.sender_device_keys is not None:
            device = parse_device_keys(session.sender_device_keys, decrypted.sender)
        if device is not None and (device.ed25519, device.curve25519) != (
            session.signing_key,
            session.sender_key,
        ):
            device = None
        if device is None and session.sender_user is None:
            owner = self.directory.owner_of_curve(session.sender_key)
            if owner is not None and owner.user_id != decrypted.sender:
                raise EventRefused("the session belongs to another user", "forged_sender")
        if session.sender_user == self.user_id and session.sender_key == self.account.curve25519:
            device = self.account.device_keys()
        trust = self.trust(device) if device is not None else DeviceTrust.UNTRUSTED
        return RoomEvent(decrypted, device, trust, session.sender_user is not None)

    # -- key requests and forwarding ------------------------------------------------------

    def room_key_request(self, room_id: str, session_id: str) -> RoomKeyRequest:
        return RoomKeyRequest("request", self.device_id, _txn(), room_id, session_id)

    def forward_room_key(
        self, user_id: str, device_id: str, room_id: str, session_id: str
    ) -> dict[str, Any]:
        """An Olm-encrypted ``m.forwarded_room_key`` for one of our own verified devices."""
        device = self.directory.device(user_id, device_id)
        if (
            user_id != self.user_id
            or device is None
            or self.trust(device) is not (DeviceTrust.VERIFIED)
        ):
            raise EventRefused("keys are forwarded only to our own verified devices", "untrusted")
        session = self.inbound.get(room_id, session_id)
        if session is None:
            raise MegolmDecryptionError("no such session", "unknown_session")
        return self.olm.encrypt(
            self.account, device, FORWARDED_ROOM_KEY, session.forwarded_room_key().content()
        )

    # -- cross-signing and trust ----------------------------------------------------------

    def own_identity(self) -> UserIdentity | None:
        """Our identity as we trust it: from our private keys, or the master key we verified."""
        if self.cross_signing is not None:
            return self.cross_signing.public_identity()
        published = self.directory.identities.get(self.user_id)
        if published is not None and published.master.public_key == self.trusted_own_master:
            return published
        return None

    def trust_own_master_key(self, master_key: str) -> None:
        """Trust our user's master key, checked out of band (our other device's QR code)."""
        self.trusted_own_master = master_key

    def trust(self, device: DeviceKeys) -> DeviceTrust:
        """Trust in ``device``, judged on the directory's copy when it holds the same keys:
        a copy from an Olm plaintext or an older query lacks signatures added since (the
        owner cross-signed the device after the session began)."""
        current = self.directory.device(device.user_id, device.device_id)
        if current is not None and (current.ed25519, current.curve25519) == (
            device.ed25519,
            device.curve25519,
        ):
            device = current
        own = self.own_identity()
        owner = own if own and device.user_id == self.user_id else None
        owner = owner or self.directory.identities.get(device.user_id)
        return device_trust(own, owner, device)

    def bootstrap_cross_signing(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """New cross-signing keys: the ``device_signing/upload`` and ``signatures/upload`` bodies.

        The signature upload signs this device with the self-signing key and the master
        key with this device (so other devices can trust the master key from it).
        """
        keys = CrossSigningKeys.generate(self.user_id)
        self.cross_signing = keys
        device = self.account.device_keys()
        master = keys.sign_master_with_device(
            self.user_id, self.account.signing_key_id, self.account.sign
        )
        signatures = signature_upload_body(
            (self.user_id, self.device_id, keys.sign_own_device(device)),
            (self.user_id, keys.master.public_key, master),
        )
        return keys.upload_body(), signatures

    def sign_own_device(self, device_id: str) -> dict[str, Any]:
        """``signatures/upload`` body cross-signing another device of ours (after verifying it)."""
        device = self.directory.device(self.user_id, device_id)
        if self.cross_signing is None or device is None:
            raise KeyFormatError("need our cross-signing keys and the device's keys")
        return signature_upload_body(
            (self.user_id, device_id, self.cross_signing.sign_own_device(device))
        )

    def verify_user_from_qr(self, user_id: str, scanned_master_key: str) -> dict[str, Any]:
        """Compare the QR's master key with the server's and sign it: a signatures/upload body."""
        identity = self.directory.identities.get(user_id)
        if self.cross_signing is None or identity is None:
            raise KeyFormatError("need our cross-signing keys and the user's identity")
        return verify_master_key_from_qr(scanned_master_key, identity, self.cross_signing)

    # -- key backup -----------------------------------------------------------------------

    def create_backup(self) -> tuple[BackupDecryptionKey, dict[str, Any]]:
        """A new backup key and the ``POST room_keys/version`` body, signed by device and master."""
        key = BackupDecryptionKey.generate()
        signers: list[Any] = [(self.user_id, self.account.signing_key_id, self.account.sign)]
        if self.cross_signing is not None:
            master = self.cross_signing.master
            signers.append((self.user_id, master.key_id, master.sign))
        return key, key.version_body(*signers)

    def enable_backup(self, public_key: str, version: str) -> None:
        """Back up to this key from now on (the caller checked ``auth_data`` is trusted)."""
        self.backup = BackupEncryptor(public_key)
        self.backup_version = version
        self.backed_up.clear()

    def backup_request(self) -> tuple[str, dict[str, Any], list[tuple[str, str]]] | None:
        """(version, ``PUT room_keys/keys`` body, sessions in it) for what is not backed up yet."""
        if self.backup is None or self.backup_version is None:
            return None
        pending = [s for s in self.inbound if (s.room_id, s.session_id) not in self.backed_up]
        if not pending:
            return None
        body = self.backup.keys_body(pending)
        return self.backup_version, body, [(s.room_id, s.session_id) for s in pending]

    def on_backup_response(self, sessions: Iterable[tuple[str, str]]) -> None:
        self.backed_up.update(sessions)

    def restore_backup(self, key: BackupDecryptionKey, response: Mapping[str, Any]) -> int:
        """Import the sessions of a ``GET room_keys/keys`` answer; how many were new or better."""
        imported = 0
        for restored in key.restore(response):
            session = InboundRoomSession.from_export(restored.export)
            if self.inbound.add(session):
                imported += 1
                self.backed_up.add((session.room_id, session.session_id))
        return imported
