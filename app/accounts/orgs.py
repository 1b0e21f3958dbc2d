"""Organisations: creation (CLI), the cancellation policy, staff administration."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts import store
from app.accounts.passwords import Passwords
from app.accounts.schemas import OrgUserOut
from app.accounts.service import normalise_email
from app.audit.service import Audit
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.principal import Principal, Role
from app.core.time import Clock
from app.core.wire import Camel
from app.keys.directory import KeyDirectory
from app.realtime.notifier import Notifier
from app.storage.engine import Database

DEFAULT_COUNTING = {
    "kela": {"lateCancellation": True, "noShow": True},
    "municipality": {"lateCancellation": True, "noShow": True},
    "self": {"lateCancellation": True, "noShow": True},
    "other": {"lateCancellation": True, "noShow": True},
}


class PayerCounting(Camel):
    late_cancellation: bool
    no_show: bool


class CountingPolicy(Camel):
    kela: PayerCounting
    municipality: PayerCounting
    self_: PayerCounting = msgspec.field(name="self")
    other: PayerCounting


class OrgOut(Camel):
    id: UUID
    name: str
    languages: list[str]
    late_cancel_hours: int
    counting_policy: CountingPolicy


class PolicyUpdate(Camel):
    late_cancel_hours: Annotated[int, Meta(ge=0, le=168)] | msgspec.UnsetType = msgspec.UNSET
    counting_policy: CountingPolicy | msgspec.UnsetType = msgspec.UNSET


class CancellationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What the appointments domain needs of an organisation's policy."""

    late_cancel_hours: int
    counting: CountingPolicy

    def counts(self, payer: str, kind: str) -> bool:
        """Does a late cancellation (``kind="late_cancellation"``) or a no-show
        (``kind="no_show"``) count against a period paid by ``payer``?"""
        per_payer: PayerCounting = getattr(self.counting, "self_" if payer == "self" else payer)
        return bool(getattr(per_payer, kind))


async def cancellation_policy(conn: AsyncConnection, org_id: UUID) -> CancellationPolicy:
    """The organisation's cancellation policy (read inside the caller's transaction)."""
    row = await store.get_org(conn, org_id)
    if row is None:
        raise NotFound("No such organisation", code="org_not_found")
    return CancellationPolicy(
        late_cancel_hours=row.late_cancel_hours,
        counting=msgspec.convert(row.counting_policy, CountingPolicy),
    )


def _org_out(row: Any) -> OrgOut:
    return OrgOut(
        id=row.id,
        name=row.name,
        languages=row.languages,
        late_cancel_hours=row.late_cancel_hours,
        counting_policy=msgspec.convert(row.counting_policy, CountingPolicy),
    )


class OrgService:
    def __init__(
        self,
        db: Database,
        audit: Audit,
        notifier: Notifier,
        keys: KeyDirectory,
        clock: Clock,
    ) -> None:
        self.db = db
        self.audit = audit
        self.notifier = notifier
        self.keys = keys
        self.clock = clock

    async def create_org(self, name: str, languages: list[str]) -> UUID:
        org_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            await store.insert_org(
                conn,
                id=org_id,
                name=name,
                languages=languages,
                late_cancel_hours=24,
                counting_policy=DEFAULT_COUNTING,
                created_at=self.clock(),
            )
            await self.audit.record(
                conn, "org.created", org_id=org_id, target_type="org", target_id=org_id
            )
        return org_id

    async def create_user(
        self,
        passwords: Passwords,
        *,
        org_id: UUID,
        email: str,
        role: Role,
        display_name: str,
        password: str,
        locale: str = "fi",
    ) -> UUID:
        """Create a user directly (the CLI's first admin; the demo seed)."""
        password_hash = await passwords.hash(password)
        user_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            if await store.get_org(conn, org_id) is None:
                raise NotFound("No such organisation", code="org_not_found")
            if await store.get_user_by_email(conn, normalise_email(email)) is not None:
                raise Conflict("An account with this e-mail exists", code="email_taken")
            await store.insert_user(
                conn,
                id=user_id,
                org_id=org_id,
                role=role,
                email=normalise_email(email),
                display_name=display_name,
                locale=locale,
                password_hash=password_hash,
                created_at=self.clock(),
            )
            await self.audit.record(
                conn,
                "user.created",
                org_id=org_id,
                target_type="user",
                target_id=user_id,
                details={"role": role, "via": "cli"},
            )
        return user_id

    @staticmethod
    def _admin(principal: Principal) -> None:
        if principal.role != "admin":
            raise Forbidden("Only an organisation's admin can do this")

    async def get_org(self, principal: Principal) -> OrgOut:
        self._admin(principal)
        async with self.db.read() as conn:
            row = await store.get_org(conn, principal.org_id)
        assert row is not None
        return _org_out(row)

    async def update_policy(self, principal: Principal, body: PolicyUpdate, address: str) -> OrgOut:
        self._admin(principal)
        changes: dict[str, Any] = {}
        if isinstance(body.late_cancel_hours, int):
            changes["late_cancel_hours"] = body.late_cancel_hours
        if isinstance(body.counting_policy, CountingPolicy):
            changes["counting_policy"] = msgspec.to_builtins(body.counting_policy)
        async with self.db.transaction() as conn:
            if changes:
                await store.update_org(conn, principal.org_id, **changes)
                await self.audit.record(
                    conn,
                    "org.policy_changed",
                    org_id=principal.org_id,
                    actor=principal,
                    details={"fields": sorted(changes)},
                    address=address,
                )
            row = await store.get_org(conn, principal.org_id)
        return _org_out(row)

    async def list_users(self, principal: Principal) -> list[OrgUserOut]:
        self._admin(principal)
        async with self.db.read() as conn:
            rows = await store.list_org_users(conn, principal.org_id)
        return [
            OrgUserOut(
                id=r.id,
                role=r.role,
                display_name=r.display_name,
                email=r.email,
                disabled=r.disabled_at is not None,
            )
            for r in rows
            if r.role in ("admin", "therapist")
        ]

    async def enable_user(self, principal: Principal, user_id: UUID, address: str) -> None:
        """Re-enable a disabled staff account; it signs in with its password again (or
        asks for a reset link). Enabling an active account changes nothing (204)."""
        self._admin(principal)
        async with self.db.transaction() as conn:
            row = await store.get_user(conn, user_id)
            if (
                row is None
                or row.org_id != principal.org_id
                or row.role not in ("admin", "therapist")
            ):
                raise NotFound("No such staff member", code="user_not_found")
            if row.disabled_at is None:
                return
            await store.update_user(conn, user_id, disabled_at=None)
            await self.audit.record(
                conn,
                "user.enabled",
                org_id=principal.org_id,
                actor=principal,
                target_type="user",
                target_id=user_id,
                address=address,
            )

    async def disable_user(self, principal: Principal, user_id: UUID, address: str) -> None:
        """Disable a staff account (a therapist who left) and revoke all its devices."""
        self._admin(principal)
        if user_id == principal.user_id:
            raise Conflict("You cannot disable your own account", code="cannot_disable_self")
        now = self.clock()
        async with self.db.transaction() as conn:
            row = await store.get_user(conn, user_id)
            if (
                row is None
                or row.org_id != principal.org_id
                or row.role not in ("admin", "therapist")
            ):
                raise NotFound("No such staff member", code="user_not_found")
            await store.update_user(conn, user_id, disabled_at=now)
            revoked = await store.revoke_devices(conn, user_id, now)
            await self.audit.record(
                conn,
                "user.disabled",
                org_id=principal.org_id,
                actor=principal,
                target_type="user",
                target_id=user_id,
                details={"revokedDevices": len(revoked)},
                address=address,
            )
        if revoked:
            await self.notifier.close_devices(revoked)
            await self.keys.device_list_changed(user_id)
