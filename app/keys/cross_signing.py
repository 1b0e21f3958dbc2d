"""Cross-signing at the Matrix paths: ``keys/device_signing/upload`` and
``keys/signatures/upload`` (docs/matrix-api.md).

* The first upload of a user's cross-signing keys needs no re-authentication (the bearer
  token is enough: there is nothing to take over), nor does repeating the stored keys
  exactly (a retry). Replacing a stored key needs the account password in the spec's
  user-interactive ``auth`` dict (``{"type": "m.login.password", "password": …}``);
  without it the answer is the spec's 401 with ``flows``. Accounts without a password
  (children, who sign in by pairing) cannot replace their keys.
* The self-signing and user-signing keys must be signed by the master key.
* A signature upload is stored only after it verified: the user's self-signing key over
  one of the user's devices, a device of the user over the user's master key, or the
  user's user-signing key over another (reachable) user's master key.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Audit
from app.core.matrix import MatrixError, MatrixIds, parse_device
from app.core.principal import Principal
from app.core.time import Clock
from app.keys import matrix_store as mx
from app.keys.directory import KeyDirectory, bad_json, check_key, shape, verify
from app.keys.matrix_schemas import (
    CrossSigningKeyShape,
    DeviceSigningUpload,
    SignaturesUpload,
    SignaturesUploadOut,
)
from app.storage.engine import Database
from crypto.matrix.errors import EncodingError
from crypto.matrix.signing import signable_bytes

USAGES = ("master", "self_signing", "user_signing")
PASSWORD_FLOW = "m.login.password"  # noqa: S105 (the flow name)


class ReAuth(Protocol):
    """Kaari's re-authentication (accounts answers): is this the caller's password?"""

    async def check_password(self, principal: Principal, password: str) -> bool: ...


def _reauth_required(wrong: bool) -> MatrixError:
    return MatrixError(
        401,
        "M_FORBIDDEN" if wrong else "M_UNAUTHORIZED",
        "Wrong password" if wrong else "Replacing cross-signing keys needs your password",
        code="reauth_failed" if wrong else "reauth_required",
        extra={
            "flows": [{"stages": [PASSWORD_FLOW]}],
            "params": {},
            "session": secrets.token_urlsafe(16),
        },
    )


def _public_key(obj: dict[str, Any], usage: str, user: str) -> str:
    key = shape(obj, CrossSigningKeyShape, f"{usage} key")
    if key.user_id != user:
        raise MatrixError(403, "M_FORBIDDEN", "Only your own keys", code="wrong_user")
    if key.usage != [usage]:
        raise bad_json(f"The {usage} key's usage must be [{usage!r}]")
    ((key_id, public),) = key.keys.items()
    if key_id != f"ed25519:{public}":
        raise bad_json("A cross-signing key's id is ed25519:<its public key>")
    check_key(public, "A cross-signing key")
    return str(public)


def _failure(errcode: str, error: str) -> dict[str, str]:
    return {"errcode": errcode, "error": error}


class CrossSigning:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        directory: KeyDirectory,
        reauth: ReAuth,
        ids: MatrixIds,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.directory = directory
        self.reauth = reauth
        self.ids = ids

    async def upload_keys(
        self, principal: Principal, body: DeviceSigningUpload, address: str
    ) -> dict[str, Any]:
        user = self.ids.user(principal.user_id)
        given = {
            usage: obj
            for usage, obj in (
                ("master", body.master_key),
                ("self_signing", body.self_signing_key),
                ("user_signing", body.user_signing_key),
            )
            if obj is not None
        }
        publics = {usage: _public_key(obj, usage, user) for usage, obj in given.items()}
        async with self.db.read() as conn:
            stored = await self._stored(conn, principal.user_id)
        master = publics.get("master") or (stored["master"].ed25519 if "master" in stored else None)
        if master is None and given:
            raise bad_json("Upload the master key first (or with the others)")
        for usage in ("self_signing", "user_signing"):
            if usage in given:
                assert master is not None
                verify(given[usage], user, f"ed25519:{master}", master)
        changed = [u for u in given if u not in stored or _differs(stored[u].key_json, given[u])]
        if not changed:
            return {}
        if "master" in stored:
            await self._reauthenticate(principal, body.auth)
        now = self.clock()
        async with self.db.transaction() as conn:
            current = await self._stored(conn, principal.user_id)
            if "master" in current and "master" not in stored:
                raise MatrixError(
                    409, "M_UNKNOWN", "Cross-signing keys were set meanwhile", code="conflict"
                )
            for usage in changed:
                old = current.get(usage)
                if old is not None:
                    await mx.delete_signatures_by(conn, principal.user_id, f"ed25519:{old.ed25519}")
                await mx.put_cross_signing_key(
                    conn,
                    user_id=principal.user_id,
                    usage=usage,
                    ed25519=publics[usage],
                    key_json=given[usage],
                    created_at=now,
                )
            await self.directory.record_change(conn, [principal.user_id], now)
            await self.audit.record(
                conn,
                "keys.cross_signing_set",
                org_id=principal.org_id,
                actor=principal,
                target_type="user",
                target_id=principal.user_id,
                details={"keys": sorted(changed), "replaced": "master" in stored},
                address=address,
            )
        await self.directory.announce([principal.user_id])
        return {}

    async def master_key(self, conn: AsyncConnection, user_id: UUID) -> str | None:
        """The user's current master cross-signing public key (``None`` before the upload)."""
        row = (await self._stored(conn, user_id)).get("master")
        return str(row.ed25519) if row is not None else None

    async def _stored(self, conn: AsyncConnection, user_id: UUID) -> dict[str, Any]:
        return {r.usage: r for r in await mx.cross_signing_keys_of(conn, [user_id])}

    async def _reauthenticate(self, principal: Principal, auth: dict[str, Any] | None) -> None:
        if (
            not auth
            or auth.get("type") != PASSWORD_FLOW
            or not isinstance(auth.get("password"), str)
        ):
            raise _reauth_required(wrong=False)
        if not await self.reauth.check_password(principal, auth["password"]):
            raise _reauth_required(wrong=True)

    # signatures

    async def upload_signatures(
        self, principal: Principal, body: SignaturesUpload, address: str
    ) -> SignaturesUploadOut:
        me = self.ids.user(principal.user_id)
        failures: dict[str, dict[str, dict[str, str]]] = {}
        now = self.clock()
        touched: set[UUID] = set()
        async with self.db.transaction() as conn:
            mine = await self._stored(conn, principal.user_id)
            for mxid, objects in body.items():
                target = self.ids.parse_user(mxid)
                allowed = await self.directory.reachable(
                    conn, principal, [target] if target else []
                )
                for key_id, obj in objects.items():
                    if target is None or target not in allowed:
                        failures.setdefault(mxid, {})[key_id] = _failure(
                            "M_NOT_FOUND", "Unknown key"
                        )
                        continue
                    error = await self._one(conn, principal, me, mine, target, key_id, obj, now)
                    if error is None:
                        touched.add(target)
                    elif error:
                        failures.setdefault(mxid, {})[key_id] = error
            if touched:
                await self.directory.record_change(conn, touched, now)
                await self.audit.record(
                    conn,
                    "keys.signatures_uploaded",
                    org_id=principal.org_id,
                    actor=principal,
                    target_type="user",
                    target_id=principal.user_id,
                    details={"users": len(touched)},
                    address=address,
                )
        if touched:
            await self.directory.announce(touched)
        return SignaturesUploadOut(failures=failures)

    async def _one(
        self,
        conn: AsyncConnection,
        principal: Principal,
        me: str,
        mine: dict[str, Any],
        target: UUID,
        key_id: str,
        obj: dict[str, Any],
        now: Any,
    ) -> dict[str, str] | None:
        """Store the new verified signatures of ``obj`` by the caller; None if any was new,
        {} if there was nothing new, else the failure."""
        stored_obj: dict[str, Any] | None = None
        signers: dict[str, str] = {}  # signer key id -> its Ed25519 key
        target_key = key_id
        device_id = parse_device(key_id)
        if target == principal.user_id and device_id is not None:
            row = await mx.get_device_keys(conn, device_id)
            if row is not None and row.user_id == target:
                stored_obj = row.key_json
                if "self_signing" in mine:
                    ssk = mine["self_signing"].ed25519
                    signers[f"ed25519:{ssk}"] = ssk
        if stored_obj is None:
            theirs = {r.usage: r for r in await mx.cross_signing_keys_of(conn, [target])}
            master = theirs.get("master")
            if master is None or master.ed25519 != key_id:
                return _failure("M_NOT_FOUND", "Unknown key")
            stored_obj = master.key_json
            if target == principal.user_id:
                for d in await mx.device_keys_of_users(conn, [target]):
                    signers[f"ed25519:{d.device_id}"] = d.ed25519
            elif "user_signing" in mine:
                usk = mine["user_signing"].ed25519
                signers[f"ed25519:{usk}"] = usk
        try:
            same = signable_bytes(obj) == signable_bytes(stored_obj)
        except EncodingError:
            same = False
        if not same:
            return _failure("M_INVALID_PARAM", "The signed object differs from the stored key")
        given = obj.get("signatures", {}).get(me, {})
        if not isinstance(given, dict):
            return _failure("M_BAD_JSON", "Malformed signatures")
        new = False
        for signer_key_id, signature in given.items():
            ed25519 = signers.get(signer_key_id)
            if ed25519 is None or not isinstance(signature, str):
                continue
            try:
                verify(obj, me, signer_key_id, ed25519)
            except MatrixError:
                return _failure("M_INVALID_SIGNATURE", "Invalid signature")
            new |= await mx.put_signature(
                conn,
                target_user_id=target,
                target_key_id=target_key,
                signer_user_id=principal.user_id,
                signer_key_id=signer_key_id,
                signature=signature,
                created_at=now,
            )
        return None if new else {}


def _differs(stored: dict[str, Any], given: dict[str, Any]) -> bool:
    return signable_bytes(stored) != signable_bytes(given) or stored.get("signatures") != given.get(
        "signatures"
    )
