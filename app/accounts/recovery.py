"""Account recovery: a password reset link through the notification gateway, and a
guardian's view of the child's devices (docs/data-protection.md, "Recovery").

A reset request is answered 202 at once, the same for every address: the lookup, the
token and the e-mail happen after the answer, so neither the answer nor its timing says
whether the address has an account. The link carries a 256-bit token in its fragment
(never sent to a server by a browser); only its SHA-256 is stored, it works once and
expires. Completing it sets the password and signs out every device. A new password
never restores message history: the end-to-end recovery key does (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from datetime import timedelta
from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts import store
from app.accounts.passwords import Passwords
from app.accounts.schemas import DeviceOut, ResetComplete, ResetDone
from app.accounts.service import AccountService, normalise_email
from app.accounts.tokens import digest
from app.audit.service import Audit
from app.cases.service import CaseService
from app.config import Settings
from app.core.digests import ip_hash
from app.core.errors import InvalidInput, NotFound
from app.core.principal import Principal
from app.core.time import Clock
from app.ratelimit import RateLimiter
from app.storage.engine import Database

log = logging.getLogger("kaari.accounts")

WINDOW = 3600
RECOVERY_NOTE = (
    "Your password is new and every device is signed out. Sign in again; your message "
    "history comes back only with your recovery key (a new password cannot decrypt it)."
)


class ResetMailer(Protocol):
    """What recovery asks of notifications (``Notifications`` answers): the link by
    e-mail in the caller's transaction, and a wake-up of the sender after the commit."""

    async def send_reset_link(self, conn: AsyncConnection, user_id: UUID, link: str) -> bool: ...

    def wake(self) -> None: ...


class Recovery:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        passwords: Passwords,
        limiter: RateLimiter,
        audit: Audit,
        accounts: AccountService,
        cases: CaseService,
        mailer: ResetMailer,
        clock: Clock,
    ) -> None:
        self.db = db
        self.settings = settings
        self.passwords = passwords
        self.limiter = limiter
        self.audit = audit
        self.accounts = accounts
        self.cases = cases
        self.mailer = mailer
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    # password reset

    async def request_reset(self, email: str, address: str) -> None:
        """Count the request (per client address, and per e-mail address at a fifth of
        that), then answer; the link is made and sent after the answer."""
        s = self.settings
        where = ip_hash(s.secret_key, address) or "unknown"
        normal = normalise_email(email)
        per_address = s.password_reset_max_per_address
        await self.limiter.hit(f"reset:ip:{where}", per_address, WINDOW)
        await self.limiter.hit(f"reset:acct:{digest(normal).hex()}", per_address // 5, WINDOW)
        task = asyncio.get_running_loop().create_task(self._issue(normal, address))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _issue(self, email: str, address: str) -> None:
        try:
            async with self.db.read() as conn:
                user = await store.get_user_by_email(conn, email)
            if user is None or user.disabled_at is not None or user.password_hash is None:
                return  # no account, a disabled one (an admin re-enables), or a child's
            token = secrets.token_urlsafe(32)
            now = self.clock()
            base = (self.settings.public_url or "http://localhost:8000").rstrip("/")
            async with self.db.transaction() as conn:
                await store.delete_resets_of(conn, user.id)  # only the newest link works
                await store.insert_reset(
                    conn,
                    id=uuid.uuid4(),
                    user_id=user.id,
                    token_hash=digest(token),
                    created_at=now,
                    expires_at=now + timedelta(minutes=self.settings.password_reset_ttl_minutes),
                )
                sent = await self.mailer.send_reset_link(
                    conn, user.id, f"{base}/reset-password#token={token}"
                )
                await self.audit.record(
                    conn,
                    "password.reset_requested",
                    org_id=user.org_id,
                    actor_user_id=user.id,
                    target_type="user",
                    target_id=user.id,
                    details={"sent": sent},
                    address=address,
                )
            self.mailer.wake()
        except Exception as exc:  # the answer is gone; the user asks again
            log.warning("password reset not issued", extra={"error_type": type(exc).__name__})

    async def complete_reset(self, body: ResetComplete, address: str) -> ResetDone:
        s = self.settings
        where = ip_hash(s.secret_key, address) or "unknown"
        await self.limiter.hit(f"reset:done:{where}", s.password_reset_max_per_address, WINDOW)
        new_hash = await self.passwords.hash(body.new_password)
        now = self.clock()
        async with self.db.transaction() as conn:
            row = await store.take_reset(conn, digest(body.token), now)
            user = await store.get_user(conn, row.user_id) if row is not None else None
            if row is None or user is None or user.disabled_at is not None:
                raise InvalidInput(
                    "This reset link is not valid (used, expired or replaced); ask for a new one",
                    code="reset_token_invalid",
                )
            await store.update_user(conn, user.id, password_hash=new_hash)
            await store.delete_resets_of(conn, user.id)
            revoked = await store.revoke_devices(conn, user.id, now)
            await self.audit.record(
                conn,
                "password.reset",
                org_id=user.org_id,
                actor_user_id=user.id,
                target_type="user",
                target_id=user.id,
                details={"revokedDevices": len(revoked)},
                address=address,
            )
        await self.accounts.disconnect(user.id, revoked)
        return ResetDone(revoked_devices=len(revoked), recovery=RECOVERY_NOTE)

    async def settle(self) -> None:
        """Wait for the resets being issued (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # the child's devices, for a guardian

    async def _child_of(self, principal: Principal, case_id: UUID) -> UUID:
        m = await self.cases.member_access(principal, case_id)
        m.require("guardian")
        if m.child_user_id is None:
            raise NotFound("The child has no account", code="child_not_found")
        return m.child_user_id

    async def child_devices(self, principal: Principal, case_id: UUID) -> list[DeviceOut]:
        child = await self._child_of(principal, case_id)
        async with self.db.read() as conn:
            rows = await store.list_devices(conn, child)
        return [
            DeviceOut(
                id=r.id,
                name=r.name,
                platform=r.platform,
                created_at=r.created_at,
                last_seen_at=r.last_seen_at,
                current=False,
            )
            for r in rows
        ]

    async def revoke_child_device(
        self, principal: Principal, case_id: UUID, device_id: UUID, address: str
    ) -> None:
        child = await self._child_of(principal, case_id)
        async with self.db.transaction() as conn:
            revoked = await store.revoke_devices(conn, child, self.clock(), only=device_id)
            if not revoked:
                raise NotFound("No such device", code="device_not_found")
            await self.audit.record(
                conn,
                "device.revoked",
                org_id=principal.org_id,
                actor=principal,
                target_type="device",
                target_id=device_id,
                details={"userId": str(child), "caseId": str(case_id)},
                address=address,
            )
        await self.accounts.disconnect(child, revoked)
