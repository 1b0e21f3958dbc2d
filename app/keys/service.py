"""Rules of the E2E key directory (DESIGN.md section 5, docs/keys.md).

The server stores and serves public keys and signatures; it verifies every signature it
accepts (pynacl, through :mod:`crypto`) and never holds a private key.

* A device uploads only its own keys; its identity keys are fixed once uploaded.
* A one-time key is handed out at most once (see :func:`app.keys.store.claim_one_time_key`);
  when none are left, the device's fallback key is handed out instead.
* Claims and queries reach only users who share an open case with the caller (and the
  caller itself); anyone else is simply absent from the answer, so nothing is enumerable.
  Revoked devices are absent too.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.events import DEVICE_LIST_CHANGED
from app.core.principal import Principal
from app.core.time import Clock
from app.keys import store
from app.keys.directory import KeyDirectory
from app.keys.schemas import (
    ClaimedKey,
    ClaimRequest,
    ClaimResponse,
    DeviceSignatureOut,
    DeviceSignatureUpload,
    KeyCounts,
    KeyUpload,
    MasterKeyObject,
    MasterKeyOut,
    OneTimeKey,
    QueryRequest,
    QueryResponse,
    UserKeys,
)
from app.ratelimit import RateLimiter
from app.realtime.notifier import Notifier
from app.storage.engine import Database
from crypto.cross_signing import verify_cross_signed_device, verify_master_key
from crypto.errors import BundleError, SignatureError
from crypto.identity import (
    ONE_TIME_KEY_ALGORITHM,
    DeviceKeys,
    parse_one_time_key_id,
    verify_device_bundle,
    verify_one_time_key,
)
from crypto.signing import add_signature, signable_bytes

log = logging.getLogger("kaari.keys")

#: Claim requests per device per minute: a device claims only to start sessions with
#: devices it has none with, so this is generous; it stops draining others' keys.
CLAIMS_PER_MINUTE = 60
#: Unclaimed one-time keys a device may keep on the server (vodozemac keeps at most 100).
MAX_UNCLAIMED_ONE_TIME_KEYS = 200


def _refusal(exc: SignatureError, invalid_code: str) -> InvalidInput:
    """422 ``bad_signature`` when a signature failed, else ``invalid_code`` (malformed)."""
    cause = exc if not isinstance(exc, BundleError) else exc.__cause__
    if isinstance(cause, SignatureError) and not isinstance(cause, BundleError):
        return InvalidInput("A signature does not verify", code="bad_signature")
    return InvalidInput(f"Malformed key material: {exc}", code=invalid_code)


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: str  # without the "signed_curve25519:" prefix
    key: str
    signature: str


@dataclass(frozen=True, slots=True)
class _CheckedUpload:
    bundle: dict[str, Any] | None  # as stored: the device's own signature only
    keys: DeviceKeys | None
    master_signatures: dict[str, str]  # other key ids the bundle was signed with
    one_time: list[_Key]
    fallback: _Key | None


def _own_signature(obj: dict[str, Any], user: str, device: str) -> str:
    signature = obj["signatures"][user][f"ed25519:{device}"]
    assert isinstance(signature, str)
    return signature


def _check_keys(
    objs: dict[str, OneTimeKey], user: str, device: str, ed25519: str, *, fallback: bool
) -> list[_Key]:
    out: list[_Key] = []
    for full_id, obj in objs.items():
        try:
            key_id = parse_one_time_key_id(full_id)
        except BundleError as exc:
            raise InvalidInput(str(exc), code="invalid_key") from exc
        raw = msgspec.to_builtins(obj)
        if not fallback and "fallback" in raw:
            raise InvalidInput("A one-time key carries no fallback flag", code="invalid_key")
        try:
            key = verify_one_time_key(raw, user, device, ed25519, fallback=fallback)
        except BundleError as exc:
            raise _refusal(exc, "invalid_key") from exc
        out.append(_Key(key_id, key, _own_signature(raw, user, device)))
    return out


def _check_upload(body: KeyUpload, user: str, device: str, ed25519: str | None) -> _CheckedUpload:
    """Pure verification of an upload (run in a worker thread: up to ~100 signatures)."""
    bundle: dict[str, Any] | None = None
    keys: DeviceKeys | None = None
    extra: dict[str, str] = {}
    if body.device_keys is not None:
        raw = msgspec.to_builtins(body.device_keys)
        try:
            keys = verify_device_bundle(raw)
        except BundleError as exc:
            raise _refusal(exc, "invalid_bundle") from exc
        own_id = f"ed25519:{device}"
        extra = {k: v for k, v in raw["signatures"][user].items() if k != own_id}
        bundle = {k: v for k, v in raw.items() if k != "signatures"}
        bundle["signatures"] = {user: {own_id: raw["signatures"][user][own_id]}}
        ed25519 = keys.ed25519
    if ed25519 is None:
        if body.one_time_keys or body.fallback_keys:
            raise InvalidInput(
                "Upload this device's keys before its one-time keys", code="device_keys_missing"
            )
        return _CheckedUpload(None, None, {}, [], None)
    one_time = _check_keys(body.one_time_keys, user, device, ed25519, fallback=False)
    fallbacks = _check_keys(body.fallback_keys, user, device, ed25519, fallback=True)
    return _CheckedUpload(bundle, keys, extra, one_time, fallbacks[0] if fallbacks else None)


def _key_object(user: str, device: str, key: str, signature: str, *, fallback: bool) -> Any:
    obj: dict[str, Any] = {"key": key}
    if fallback:
        obj["fallback"] = True
    obj["signatures"] = {user: {f"ed25519:{device}": signature}}
    return obj


class KeyService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        notifier: Notifier,
        limiter: RateLimiter,
        matrix: KeyDirectory,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.notifier = notifier
        self.limiter = limiter
        self.matrix = matrix

    # device sets, for the domains that encrypt to devices

    async def live_devices(
        self, conn: AsyncConnection, user_ids: Iterable[UUID]
    ) -> dict[UUID, UUID]:
        """device id -> user id of the users' devices that can receive: not revoked, keyed."""
        return await store.live_devices_of_users(conn, user_ids)

    async def curve25519_of(self, conn: AsyncConnection, device_id: UUID) -> str | None:
        """The device's registered Curve25519 identity key (None before its upload)."""
        row = await store.get_device_keys(conn, device_id)
        return None if row is None else str(row.curve25519)

    async def device_list_changed(self, user_id: UUID) -> None:
        """Bump the user's device-list version and tell every device of the users who share
        a case with them (their own included) to re-query ``/keys`` (after a commit)."""
        try:
            async with self.db.transaction() as conn:
                now = self.clock()
                await store.bump_device_list(conn, user_id, now)
                await self.matrix.record_change(conn, [user_id], now)
            await self._announce(user_id)
            await self.matrix.announce([user_id])
        except Exception as exc:  # the revocation is committed; clients still get a 409
            log.warning("device list announcement failed", extra={"error_type": type(exc).__name__})

    async def _announce(self, user_id: UUID) -> None:
        async with self.db.read() as conn:
            audience = await store.co_member_users(conn, user_id)
            devices = await store.live_devices_of_users(conn, audience)
        await self.notifier.send_event(devices, DEVICE_LIST_CHANGED, {"userId": user_id})

    # upload and counts

    async def upload(self, principal: Principal, body: KeyUpload, address: str) -> KeyCounts:
        user, device = str(principal.user_id), str(principal.device_id)
        if body.device_keys is not None and (
            body.device_keys.user_id != user or body.device_keys.device_id != device
        ):
            raise Forbidden("A device uploads only its own keys", code="wrong_device")
        async with self.db.read() as conn:
            stored = await store.get_device_keys(conn, principal.device_id)
        checked = await asyncio.to_thread(
            _check_upload, body, user, device, stored.ed25519 if stored else None
        )
        now = self.clock()
        async with self.db.transaction() as conn:
            new_device_keys = False
            stored = await store.get_device_keys(conn, principal.device_id)
            if checked.bundle is not None and checked.keys is not None:
                if stored is None:
                    new_device_keys = await store.insert_device_keys(
                        conn,
                        device_id=principal.device_id,
                        user_id=principal.user_id,
                        curve25519=checked.keys.curve25519,
                        ed25519=checked.keys.ed25519,
                        bundle=checked.bundle,
                        created_at=now,
                    )
                    stored = await store.get_device_keys(conn, principal.device_id)
                assert stored is not None
                if signable_bytes(stored.bundle) != signable_bytes(checked.bundle):
                    raise Conflict(
                        "This device's keys are already registered and cannot change",
                        code="device_keys_changed",
                    )
            assert stored is not None or not (checked.one_time or checked.fallback)
            new_signature = await self._master_signature_from_bundle(conn, principal, checked, now)
            new_one_time = await self._store_one_time_keys(conn, principal, checked.one_time, now)
            new_fallback = await self._store_fallback_key(conn, principal, checked.fallback, now)
            if new_device_keys or new_signature:
                await store.bump_device_list(conn, principal.user_id, now)
            if new_device_keys or new_signature or new_one_time or new_fallback:
                await self.audit.record(
                    conn,
                    "keys.uploaded",
                    org_id=principal.org_id,
                    actor=principal,
                    target_type="device",
                    target_id=principal.device_id,
                    details={
                        "deviceKeys": new_device_keys,
                        "crossSigned": new_signature,
                        "oneTimeKeys": new_one_time,
                        "fallbackKey": new_fallback,
                    },
                    address=address,
                )
            counts = await self._counts(conn, principal.device_id)
        if new_device_keys or new_signature:
            await self._announce(principal.user_id)
        return counts

    async def _master_signature_from_bundle(
        self, conn: Any, principal: Principal, checked: _CheckedUpload, now: Any
    ) -> bool:
        """A bundle signed by the user's (already uploaded) master key records that signature.

        Other extra signatures are dropped: the server serves only what it verified.
        """
        if not checked.master_signatures or checked.bundle is None:
            return False
        master = await store.get_master_key(conn, principal.user_id)
        if master is None:
            return False
        signature = checked.master_signatures.get(f"ed25519:{master.ed25519}")
        if signature is None:
            return False
        return await self._put_device_signature(
            conn, principal, principal.device_id, checked.bundle, master.ed25519, signature, now
        )

    async def _store_one_time_keys(
        self, conn: Any, principal: Principal, keys: list[_Key], now: Any
    ) -> int:
        if not keys:
            return 0
        wanted = {k.key_id: k.key for k in keys}
        before = await store.one_time_keys_by_id(conn, principal.device_id, wanted)
        await store.insert_one_time_keys(
            conn,
            [
                {
                    "device_id": principal.device_id,
                    "key_id": k.key_id,
                    "key": k.key,
                    "signature": k.signature,
                    "created_at": now,
                }
                for k in keys
                if k.key_id not in before
            ],
        )
        # read back: a concurrent upload may have stored the same id first
        after = await store.one_time_keys_by_id(conn, principal.device_id, wanted)
        if any(after.get(key_id) != key for key_id, key in wanted.items()):
            raise Conflict(
                "A one-time key id was already uploaded with another key",
                code="one_time_key_conflict",
            )
        if await store.count_unclaimed(conn, principal.device_id) > MAX_UNCLAIMED_ONE_TIME_KEYS:
            raise InvalidInput(
                f"A device keeps at most {MAX_UNCLAIMED_ONE_TIME_KEYS} unclaimed one-time keys",
                code="too_many_one_time_keys",
            )
        return len(set(wanted) - set(before))

    async def _store_fallback_key(
        self, conn: Any, principal: Principal, key: _Key | None, now: Any
    ) -> bool:
        if key is None:
            return False
        current = await store.get_fallback_key(conn, principal.device_id)
        if current is not None and current.key_id == key.key_id:
            if current.key != key.key:
                raise Conflict(
                    "This fallback key id was already uploaded with another key",
                    code="fallback_key_conflict",
                )
            return False
        await store.put_fallback_key(
            conn,
            device_id=principal.device_id,
            key_id=key.key_id,
            key=key.key,
            signature=key.signature,
            created_at=now,
            used_at=None,
        )
        return True

    async def counts(self, principal: Principal) -> KeyCounts:
        async with self.db.read() as conn:
            return await self._counts(conn, principal.device_id)

    async def _counts(self, conn: Any, device_id: UUID) -> KeyCounts:
        fallback = await store.get_fallback_key(conn, device_id)
        return KeyCounts(
            one_time_key_count=await store.count_unclaimed(conn, device_id),
            fallback_key=fallback is not None,
            fallback_key_used=fallback is not None and fallback.used_at is not None,
        )

    # claim

    async def claim(self, principal: Principal, body: ClaimRequest) -> ClaimResponse:
        # a member must not drain other devices' keys
        await self.limiter.hit(f"keys:claim:{principal.device_id}", CLAIMS_PER_MINUTE, 60)
        targets = list(dict.fromkeys(body.devices))
        out: dict[UUID, ClaimedKey] = {}
        now = self.clock()
        async with self.db.transaction() as conn:
            owners = await store.live_devices_with_keys(conn, targets)
            allowed = await store.reachable_users(
                conn, principal.user_id, principal.org_id, set(owners.values())
            )
            for device_id in targets:
                user_id = owners.get(device_id)
                if user_id is None or user_id not in allowed:
                    continue
                fallback = False
                row = await store.claim_one_time_key(conn, device_id, principal.device_id, now)
                if row is None:
                    row = await store.get_fallback_key(conn, device_id)
                    if row is None:
                        continue
                    fallback = True
                    if row.used_at is None:
                        await store.mark_fallback_used(conn, device_id, now)
                out[device_id] = ClaimedKey(
                    user_id=user_id,
                    key_id=f"{ONE_TIME_KEY_ALGORITHM}:{row.key_id}",
                    key=_key_object(
                        str(user_id), str(device_id), row.key, row.signature, fallback=fallback
                    ),
                    fallback=fallback,
                )
        return ClaimResponse(one_time_keys=out)

    # query

    async def query(self, principal: Principal, body: QueryRequest) -> QueryResponse:
        async with self.db.read() as conn:
            allowed = await store.reachable_users(
                conn, principal.user_id, principal.org_id, body.user_ids
            )
            rows = await store.bundles_of_users(conn, allowed)
            masters = await store.master_keys_of(conn, allowed)
            versions = await store.device_list_versions_of(conn, allowed)
        users = {
            u: UserKeys(
                device_list_version=versions.get(u, 0),
                master_key=masters[u].key_object if u in masters else None,
                devices={},
            )
            for u in allowed
        }
        for r in rows:
            bundle: dict[str, Any] = copy.deepcopy(r.bundle)
            master = masters.get(r.user_id)
            if r.master_signature and master is not None and r.master_ed25519 == master.ed25519:
                bundle = add_signature(
                    bundle, str(r.user_id), f"ed25519:{master.ed25519}", r.master_signature
                )
            users[r.user_id].devices[r.device_id] = bundle
        return QueryResponse(users=users)

    # cross-signing

    async def set_master_key(
        self, principal: Principal, body: MasterKeyObject, address: str
    ) -> MasterKeyOut:
        user = str(principal.user_id)
        if body.user_id != user:
            raise Forbidden("A user uploads only their own master key", code="wrong_user")
        raw = msgspec.to_builtins(body)
        try:
            master = verify_master_key(raw)
        except BundleError as exc:
            raise _refusal(exc, "invalid_key") from exc
        key_id = f"ed25519:{master.ed25519}"
        obj = {k: v for k, v in raw.items() if k != "signatures"}
        obj["signatures"] = {user: {key_id: raw["signatures"][user][key_id]}}
        now = self.clock()
        async with self.db.transaction() as conn:
            inserted = await store.insert_master_key(
                conn,
                user_id=principal.user_id,
                ed25519=master.ed25519,
                key_object=obj,
                created_at=now,
            )
            stored = await store.get_master_key(conn, principal.user_id)
            assert stored is not None
            if stored.ed25519 != master.ed25519:
                raise Conflict(
                    "This user already has another master key (rotation is not supported yet)",
                    code="master_key_changed",
                )
            if inserted:
                version = await store.bump_device_list(conn, principal.user_id, now)
                await self.audit.record(
                    conn,
                    "keys.master_key_set",
                    org_id=principal.org_id,
                    actor=principal,
                    target_type="user",
                    target_id=principal.user_id,
                    address=address,
                )
            else:
                versions = await store.device_list_versions_of(conn, [principal.user_id])
                version = versions.get(principal.user_id, 0)
        if inserted:
            await self._announce(principal.user_id)
        return MasterKeyOut(
            user_id=principal.user_id, ed25519=master.ed25519, device_list_version=version
        )

    async def sign_device(
        self, principal: Principal, body: DeviceSignatureUpload, address: str
    ) -> DeviceSignatureOut:
        now = self.clock()
        async with self.db.transaction() as conn:
            owners = await store.live_devices_with_keys(conn, [body.device_id])
            if owners.get(body.device_id) != principal.user_id:
                raise NotFound("No such device", code="device_not_found")
            master = await store.get_master_key(conn, principal.user_id)
            if master is None:
                raise Conflict("Upload the master key first", code="master_key_missing")
            keys = await store.get_device_keys(conn, body.device_id)
            assert keys is not None
            changed = await self._put_device_signature(
                conn, principal, body.device_id, keys.bundle, master.ed25519, body.signature, now
            )
            if changed:
                version = await store.bump_device_list(conn, principal.user_id, now)
                await self.audit.record(
                    conn,
                    "keys.device_signed",
                    org_id=principal.org_id,
                    actor=principal,
                    target_type="device",
                    target_id=body.device_id,
                    address=address,
                )
            else:
                versions = await store.device_list_versions_of(conn, [principal.user_id])
                version = versions.get(principal.user_id, 0)
        if changed:
            await self._announce(principal.user_id)
        return DeviceSignatureOut(device_id=body.device_id, device_list_version=version)

    async def _put_device_signature(
        self,
        conn: Any,
        principal: Principal,
        device_id: UUID,
        bundle: dict[str, Any],
        master_ed25519: str,
        signature: str,
        now: Any,
    ) -> bool:
        """Verify the master signature over the stored bundle and keep it; True if new."""
        user = str(principal.user_id)
        signed = add_signature(bundle, user, f"ed25519:{master_ed25519}", signature)
        try:
            verify_cross_signed_device(signed, master_ed25519)
        except SignatureError as exc:
            raise InvalidInput(
                "The master key's signature does not verify", code="bad_signature"
            ) from exc
        current = await store.get_device_signature(conn, device_id)
        if (
            current is not None
            and current.master_ed25519 == master_ed25519
            and current.signature == signature
        ):
            return False
        await store.put_device_signature(
            conn,
            device_id=device_id,
            user_id=principal.user_id,
            master_ed25519=master_ed25519,
            signature=signature,
            created_at=now,
        )
        return True
