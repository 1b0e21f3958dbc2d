"""The key directory at the Matrix paths (DESIGN.md section 5, docs/matrix-api.md):
device keys, signed one-time and fallback keys, claims and queries.

* A device uploads only its own keys, signed by its own Ed25519 key (pynacl over canonical
  JSON, ``crypto.matrix.signing``); its identity keys are fixed once uploaded.
* Each one-time key is handed out at most once (``matrix_store.claim_one_time_key``); when
  none are left the fallback key is, and stays until the device replaces it.
* Queries and claims reach only users who share an open case with the caller (and the
  caller); anyone else is left out of the answer, so nothing is enumerable. The
  user-signing key is shown to its owner only, and a signature by one user's
  user-signing key on another's master key only to the signer.
* Every change of a user's keys is a row of the device-list stream, and the devices of
  the users who share a case with them are woken (their sync reports ``device_lists``).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.core.events import DEVICE_LIST_CHANGED
from app.core.matrix import SIGNED_CURVE25519, MatrixError, MatrixIds, parse_device
from app.core.principal import Principal
from app.core.time import Clock
from app.keys import matrix_store as mx
from app.keys import store
from app.keys.matrix_schemas import (
    DeviceKeysShape,
    KeysClaim,
    KeysClaimOut,
    KeyShape,
    KeysQuery,
    KeysQueryOut,
    KeysUpload,
    KeysUploadOut,
)
from app.ratelimit import RateLimiter
from app.realtime.notifier import Notifier
from app.storage.engine import Database
from crypto.matrix.canonical import decode_key
from crypto.matrix.errors import EncodingError, SignatureError
from crypto.matrix.signing import signable_bytes, verify_json

log = logging.getLogger("kaari.keys")

CLAIMS_PER_MINUTE = 60
MAX_UNCLAIMED_ONE_TIME_KEYS = 200
DEVICE_ALGORITHMS = ("m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2")


def bad_json(detail: str, code: str = "invalid_key") -> MatrixError:
    return MatrixError(400, "M_BAD_JSON", detail, code=code)


def bad_signature(detail: str = "A signature does not verify") -> MatrixError:
    return MatrixError(400, "M_INVALID_SIGNATURE", detail, code="bad_signature")


def shape(raw: dict[str, Any], kind: type[Any], what: str) -> Any:
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        raise bad_json(f"Malformed {what}: {exc}") from None


def check_key(value: str, what: str) -> None:
    try:
        decode_key(value)
    except EncodingError:
        raise bad_json(f"{what} is not a base64 32-byte key") from None


def verify(obj: dict[str, Any], signer: str, key_id: str, ed25519: str) -> None:
    try:
        verify_json(obj, signer, key_id, ed25519)
    except SignatureError:
        raise bad_signature() from None


@dataclass(frozen=True, slots=True)
class _Checked:
    device_keys: dict[str, Any] | None  # as stored: the device's own signature only
    curve25519: str | None
    ed25519: str | None
    one_time: list[tuple[str, str, dict[str, Any]]]  # (algorithm, key id, object)
    fallback: list[tuple[str, str, dict[str, Any]]]


def _check_keys(
    objs: dict[str, Any], user: str, device: str, ed25519: str, *, fallback: bool
) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for full_id, raw in objs.items():
        algorithm, sep, key_id = full_id.partition(":")
        if algorithm != SIGNED_CURVE25519 or not sep or not key_id or len(key_id) > 64:
            raise bad_json(f"Only {SIGNED_CURVE25519}:<id> keys are accepted")
        if not isinstance(raw, dict):
            raise bad_json("A one-time key is a signed object")
        key = shape(raw, KeyShape, "key")
        if key.fallback != fallback:
            raise bad_json("Only fallback keys carry fallback: true")
        check_key(key.key, "A key")
        verify(raw, user, f"ed25519:{device}", ed25519)
        out.append((algorithm, key_id, {**raw, "signatures": {user: raw["signatures"][user]}}))
    return out


def _check_upload(body: KeysUpload, user: str, device: str, ed25519: str | None) -> _Checked:
    """Pure verification of an upload (run in a worker thread: up to ~200 signatures)."""
    stored: dict[str, Any] | None = None
    curve: str | None = None
    if body.device_keys is not None:
        raw = body.device_keys
        keys = shape(raw, DeviceKeysShape, "device_keys")
        if keys.user_id != user or keys.device_id != device:
            raise MatrixError(
                403, "M_FORBIDDEN", "A device uploads only its own keys", code="wrong_device"
            )
        curve = keys.keys.get(f"curve25519:{device}")
        new_ed = keys.keys.get(f"ed25519:{device}")
        if curve is None or new_ed is None:
            raise bad_json("device_keys needs curve25519:<device> and ed25519:<device>")
        check_key(curve, "The Curve25519 key")
        check_key(new_ed, "The Ed25519 key")
        verify(raw, user, f"ed25519:{device}", new_ed)
        own = raw["signatures"][user][f"ed25519:{device}"]
        stored = {k: v for k, v in raw.items() if k not in ("signatures", "unsigned")}
        stored["signatures"] = {user: {f"ed25519:{device}": own}}
        ed25519 = new_ed
    if ed25519 is None:
        if body.one_time_keys or body.fallback_keys:
            raise MatrixError(
                400,
                "M_INVALID_PARAM",
                "Upload this device's keys before its one-time keys",
                code="device_keys_missing",
            )
        return _Checked(None, None, None, [], [])
    one_time = _check_keys(body.one_time_keys, user, device, ed25519, fallback=False)
    fallback = _check_keys(body.fallback_keys, user, device, ed25519, fallback=True)
    return _Checked(stored, curve, ed25519, one_time, fallback)


class KeyDirectory:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        notifier: Notifier,
        limiter: RateLimiter,
        ids: MatrixIds,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.notifier = notifier
        self.limiter = limiter
        self.ids = ids

    # facts for messaging (sync, the device-set check) and cross-signing

    async def reachable(
        self, conn: AsyncConnection, principal: Principal, user_ids: Iterable[UUID]
    ) -> set[UUID]:
        """Those of ``user_ids`` who share an open case with the caller, and the caller."""
        return await store.reachable_users(conn, principal.user_id, principal.org_id, user_ids)

    async def co_members(self, conn: AsyncConnection, user_id: UUID) -> set[UUID]:
        return await store.co_member_users(conn, user_id)

    async def live_devices(
        self, conn: AsyncConnection, user_ids: Iterable[UUID]
    ) -> dict[UUID, UUID]:
        """device id -> user id of the users' signed-in devices, keyed or not (to wake)."""
        return await mx.live_devices_of_users(conn, user_ids)

    async def device_set(
        self, conn: AsyncConnection, user_ids: Iterable[UUID]
    ) -> list[tuple[UUID, UUID, str, str]]:
        """(user, device, curve25519, ed25519) of the users' live devices with keys."""
        rows = await mx.device_keys_of_users(conn, user_ids)
        return [(r.user_id, r.device_id, r.curve25519, r.ed25519) for r in rows]

    async def keyed_at(self, conn: AsyncConnection, device_id: UUID) -> datetime | None:
        """When the device published its device keys (from then on rooms encrypt for it)."""
        return await mx.keys_created_at(conn, device_id)

    async def key_counts(
        self, conn: AsyncConnection, device_id: UUID
    ) -> tuple[dict[str, int], list[str]]:
        """The device's unclaimed one-time keys per algorithm and its unused fallback types."""
        counts = {SIGNED_CURVE25519: 0, **await mx.unclaimed_counts(conn, device_id)}
        return counts, await mx.unused_fallback_algorithms(conn, device_id)

    async def device_list_head(self, conn: AsyncConnection) -> int:
        return await mx.device_list_head(conn)

    async def changed_users(
        self, conn: AsyncConnection, after: int, up_to: int, among: Iterable[UUID]
    ) -> set[UUID]:
        return await mx.changed_users(conn, after, up_to, among)

    async def record_change(
        self, conn: AsyncConnection, user_ids: Iterable[UUID], at: datetime
    ) -> None:
        """In the caller's transaction: these users' keys changed (call ``announce`` after)."""
        await mx.record_changes(conn, user_ids, at)

    async def announce(self, user_ids: Iterable[UUID]) -> None:
        """Wake the devices of everyone who shares a case with these users (after a commit)."""
        try:
            async with self.db.read() as conn:
                audience: set[UUID] = set()
                for user_id in set(user_ids):
                    audience |= await store.co_member_users(conn, user_id)
                devices = await mx.live_devices_of_users(conn, audience)
            await self.notifier.wake_sync(devices)
        except Exception as exc:  # committed; devices see it on their next sync
            log.warning("key change announcement failed", extra={"error_type": type(exc).__name__})

    async def device_list_changed(self, user_id: UUID) -> None:
        """A device of the user was revoked (or signed out): a row of the device-list
        stream, then the co-members' devices are woken and told live (after the commit)."""
        try:
            async with self.db.transaction() as conn:
                await self.record_change(conn, [user_id], self.clock())
            await self.announce([user_id])
            async with self.db.read() as conn:
                audience = await store.co_member_users(conn, user_id)
                devices = await mx.live_devices_of_users(conn, audience)
            await self.notifier.send_event(devices, DEVICE_LIST_CHANGED, {"userId": user_id})
        except Exception as exc:  # the revocation is committed; clients see it on next sync
            log.warning("device list announcement failed", extra={"error_type": type(exc).__name__})

    # keys/upload

    async def upload(self, principal: Principal, body: KeysUpload, address: str) -> KeysUploadOut:
        user, device = self.ids.user(principal.user_id), str(principal.device_id)
        async with self.db.read() as conn:
            stored = await mx.get_device_keys(conn, principal.device_id)
        checked = await asyncio.to_thread(
            _check_upload, body, user, device, stored.ed25519 if stored else None
        )
        now = self.clock()
        async with self.db.transaction() as conn:
            new_device = False
            if checked.device_keys is not None:
                assert checked.curve25519 is not None
                assert checked.ed25519 is not None
                new_device = await mx.insert_device_keys(
                    conn,
                    device_id=principal.device_id,
                    user_id=principal.user_id,
                    curve25519=checked.curve25519,
                    ed25519=checked.ed25519,
                    key_json=checked.device_keys,
                    created_at=now,
                )
                stored = await mx.get_device_keys(conn, principal.device_id)
                assert stored is not None
                if signable_bytes(stored.key_json) != signable_bytes(checked.device_keys):
                    raise MatrixError(
                        409,
                        "M_INVALID_PARAM",
                        "This device's keys are already registered and cannot change",
                        code="device_keys_changed",
                    )
            elif checked.one_time or checked.fallback:
                # the keys were checked against the stored Ed25519 key, read before
                assert stored is not None
            new_otks = await self._store_one_time_keys(conn, principal, checked.one_time, now)
            new_fallback = await self._store_fallback_keys(conn, principal, checked.fallback, now)
            if new_device:
                await mx.record_changes(conn, [principal.user_id], now)
            if new_device or new_otks or new_fallback:
                await self.audit.record(
                    conn,
                    "keys.matrix_uploaded",
                    org_id=principal.org_id,
                    actor=principal,
                    target_type="device",
                    target_id=principal.device_id,
                    details={
                        "deviceKeys": new_device,
                        "oneTimeKeys": new_otks,
                        "fallbackKey": new_fallback,
                    },
                    address=address,
                )
            counts, _ = await self.key_counts(conn, principal.device_id)
        if new_device:
            await self.announce([principal.user_id])
        return KeysUploadOut(one_time_key_counts=counts)

    async def _store_one_time_keys(
        self, conn: AsyncConnection, principal: Principal, keys: list[Any], now: datetime
    ) -> int:
        if not keys:
            return 0
        wanted = {key_id: obj for _, key_id, obj in keys}
        before = await mx.one_time_keys_by_id(conn, principal.device_id, SIGNED_CURVE25519, wanted)
        await mx.insert_one_time_keys(
            conn,
            [
                {
                    "device_id": principal.device_id,
                    "algorithm": SIGNED_CURVE25519,
                    "key_id": key_id,
                    "key_json": obj,
                    "created_at": now,
                }
                for key_id, obj in wanted.items()
                if key_id not in before
            ],
        )
        after = await mx.one_time_keys_by_id(conn, principal.device_id, SIGNED_CURVE25519, wanted)
        if any(after.get(k, {}).get("key") != obj["key"] for k, obj in wanted.items()):
            raise MatrixError(
                400,
                "M_INVALID_PARAM",
                "A one-time key id was already uploaded with another key",
                code="one_time_key_conflict",
            )
        counts = await mx.unclaimed_counts(conn, principal.device_id)
        if counts.get(SIGNED_CURVE25519, 0) > MAX_UNCLAIMED_ONE_TIME_KEYS:
            raise MatrixError(
                400,
                "M_INVALID_PARAM",
                f"A device keeps at most {MAX_UNCLAIMED_ONE_TIME_KEYS} unclaimed one-time keys",
                code="too_many_one_time_keys",
            )
        return len(set(wanted) - set(before))

    async def _store_fallback_keys(
        self, conn: AsyncConnection, principal: Principal, keys: list[Any], now: datetime
    ) -> bool:
        changed = False
        for algorithm, key_id, obj in keys:
            current = await mx.get_fallback_key(conn, principal.device_id, algorithm)
            if current is not None and current.key_id == key_id:
                if current.key_json.get("key") != obj["key"]:
                    raise MatrixError(
                        400,
                        "M_INVALID_PARAM",
                        "This fallback key id was already uploaded with another key",
                        code="fallback_key_conflict",
                    )
                continue
            await mx.put_fallback_key(
                conn,
                device_id=principal.device_id,
                algorithm=algorithm,
                key_id=key_id,
                key_json=obj,
                created_at=now,
            )
            changed = True
        return changed

    # keys/query

    async def query(self, principal: Principal, body: KeysQuery) -> KeysQueryOut:
        wanted: dict[UUID, set[str]] = {}
        for mxid, device_ids in body.device_keys.items():
            user_id = self.ids.parse_user(mxid)
            if user_id is not None:
                wanted[user_id] = set(device_ids)
        async with self.db.read() as conn:
            allowed = await self.reachable(conn, principal, wanted)
            rows = await mx.device_keys_of_users(conn, allowed)
            cross = await mx.cross_signing_keys_of(conn, allowed)
            signatures = await mx.signatures_on(conn, allowed)
        sigs: dict[tuple[UUID, str], list[Any]] = {}
        for s in signatures:
            sigs.setdefault((s.target_user_id, s.target_key_id), []).append(s)
        out = KeysQueryOut(
            device_keys={self.ids.user(u): {} for u in allowed},
            master_keys={},
            self_signing_keys={},
            user_signing_keys={},
        )
        for r in rows:
            if wanted[r.user_id] and str(r.device_id) not in wanted[r.user_id]:
                continue
            obj = self._merged(r.key_json, sigs.get((r.user_id, str(r.device_id)), []), principal)
            if r.user_id == principal.user_id:
                obj["unsigned"] = {"device_display_name": r.name}
            out.device_keys[self.ids.user(r.user_id)][str(r.device_id)] = obj
        for c in cross:
            mxid = self.ids.user(c.user_id)
            obj = self._merged(c.key_json, sigs.get((c.user_id, c.ed25519), []), principal)
            if c.usage == "master":
                out.master_keys[mxid] = obj
            elif c.usage == "self_signing":
                out.self_signing_keys[mxid] = obj
            elif c.user_id == principal.user_id:
                out.user_signing_keys[mxid] = obj
        return out

    def _merged(
        self, stored: dict[str, Any], sigs: list[Any], principal: Principal
    ) -> dict[str, Any]:
        """The stored object with the verified signatures merged in; a signature by another
        user (their user-signing key over this master key) only for that user."""
        obj = copy.deepcopy(stored)
        for s in sigs:
            if s.signer_user_id != s.target_user_id and s.signer_user_id != principal.user_id:
                continue
            signer = self.ids.user(s.signer_user_id)
            obj.setdefault("signatures", {}).setdefault(signer, {})[s.signer_key_id] = s.signature
        return obj

    # keys/claim

    async def claim(self, principal: Principal, body: KeysClaim) -> KeysClaimOut:
        await self.limiter.hit(f"keys:mxclaim:{principal.device_id}", CLAIMS_PER_MINUTE, 60)
        targets: dict[UUID, tuple[UUID, str]] = {}
        for mxid, by_device in body.one_time_keys.items():
            user_id = self.ids.parse_user(mxid)
            if user_id is None:
                continue
            for device, algorithm in by_device.items():
                device_id = parse_device(device)
                if device_id is not None and algorithm == SIGNED_CURVE25519:
                    targets[device_id] = (user_id, algorithm)
        if len(targets) > 200:
            raise MatrixError(400, "M_INVALID_PARAM", "Too many devices", code="too_many_devices")
        out: dict[str, dict[str, dict[str, Any]]] = {}
        now = self.clock()
        async with self.db.transaction() as conn:
            keyed = await mx.live_keyed_devices(conn, targets)
            owners = {d: r.user_id for d, r in keyed.items() if r.user_id == targets[d][0]}
            allowed = await self.reachable(conn, principal, set(owners.values()))
            for device_id in sorted(owners):
                user_id = owners[device_id]
                if user_id not in allowed:
                    continue
                algorithm = targets[device_id][1]
                row = await mx.claim_one_time_key(
                    conn, device_id, algorithm, principal.device_id, now
                )
                if row is None:
                    row = await mx.get_fallback_key(conn, device_id, algorithm)
                    if row is None:
                        continue
                    await mx.mark_fallback_used(conn, device_id, algorithm, now)
                out.setdefault(self.ids.user(user_id), {})[str(device_id)] = {
                    f"{algorithm}:{row.key_id}": row.key_json
                }
        return KeysClaimOut(one_time_keys=out)
