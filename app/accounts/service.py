"""Sign-in, device sessions, profile and password rules."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts import store
from app.accounts.passwords import Passwords
from app.accounts.schemas import (
    DeviceInfo,
    DeviceOut,
    LoginRequest,
    PasswordChange,
    ProfileUpdate,
    SessionOut,
    UserOut,
)
from app.accounts.tokens import digest, new_session_token
from app.audit.service import Audit
from app.config import Settings
from app.core.digests import ip_hash
from app.core.errors import InvalidInput, NotFound, Unauthenticated
from app.core.matrix import MatrixIds
from app.core.principal import Locale, Principal, UserFacts
from app.core.time import Clock
from app.keys.directory import KeyDirectory
from app.observability import counters
from app.ratelimit import RateLimiter
from app.realtime.notifier import Notifier
from app.storage.engine import Database

log = logging.getLogger("kaari.accounts")

LAST_SEEN_GRANULARITY = timedelta(minutes=5)


class InvalidCredentials(Unauthenticated):
    code, title = "invalid_credentials", "Wrong e-mail or password"


def user_out(row: Any, server_name: str) -> UserOut:
    return UserOut(
        id=row.id,
        matrix_user_id=MatrixIds(server_name).user(row.id),
        org_id=row.org_id,
        role=row.role,
        display_name=row.display_name,
        locale=row.locale,
        email=row.email,
    )


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def open_device_session(
    conn: AsyncConnection, user_id: UUID, device: DeviceInfo, now: datetime
) -> tuple[UUID, str]:
    """Create a device for ``user_id`` (signed in ``now``) and return its id and its
    (one-time shown) token."""
    token, device_id = new_session_token(), uuid.uuid4()
    await store.insert_device(
        conn,
        id=device_id,
        user_id=user_id,
        name=device.name,
        platform=device.platform,
        token_hash=digest(token),
        created_at=now,
        last_seen_at=now,
    )
    return device_id, token


class AccountService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        passwords: Passwords,
        limiter: RateLimiter,
        audit: Audit,
        notifier: Notifier,
        keys: KeyDirectory,
        clock: Clock,
    ) -> None:
        self.db = db
        self.settings = settings
        self.passwords = passwords
        self.limiter = limiter
        self.audit = audit
        self.notifier = notifier
        self.keys = keys
        self.clock = clock

    # facts other domains ask for (app/core/fanout.py, app/cases/service.py)

    async def signed_in_devices(
        self, conn: AsyncConnection, user_ids: Iterable[UUID]
    ) -> dict[UUID, UUID]:
        """device id -> user id of every signed-in device of the users, keyed or not: where
        a live event (names and ids, no content) for those users goes."""
        return await store.live_devices_of_users(conn, list(dict.fromkeys(user_ids)))

    async def email_registered(self, email: str) -> bool:
        async with self.db.read() as conn:
            return await store.get_user_by_email(conn, normalise_email(email)) is not None

    async def user_facts(self, conn: AsyncConnection, user_id: UUID) -> UserFacts | None:
        row = await store.get_user(conn, user_id)
        if row is None:
            return None
        return UserFacts(row.id, row.org_id, row.role, active=row.disabled_at is None)

    async def create_child(
        self, conn: AsyncConnection, org_id: UUID, display_name: str, locale: Locale
    ) -> UUID:
        """A child's account, in the caller's transaction (a case is opened with it); the
        child signs in by pairing, so it has no e-mail and no password."""
        child_id = uuid.uuid4()
        await store.insert_user(
            conn,
            id=child_id,
            org_id=org_id,
            role="child",
            email=None,
            display_name=display_name,
            locale=locale,
            password_hash=None,
            created_at=self.clock(),
        )
        return child_id

    async def disconnect(self, user_id: UUID, device_ids: list[UUID]) -> None:
        """After revoking devices elsewhere (recovery): as ``_disconnect``."""
        await self._disconnect(user_id, device_ids)

    async def _disconnect(self, user_id: UUID, device_ids: list[UUID]) -> None:
        """Close the revoked devices' live sockets now (after the commit), on any instance,
        and tell the user's co-members that the device list changed."""
        if not device_ids:
            return
        await self.notifier.close_devices(device_ids)
        await self.keys.device_list_changed(user_id)

    # authentication of every request

    async def authenticate(self, token: str) -> Principal | None:
        async with self.db.read() as conn:
            row = await store.session_by_token_hash(conn, digest(token))
        if row is None:
            return None
        now = self.clock()
        if now - row.last_seen_at > timedelta(days=self.settings.session_idle_days):
            return None
        if now - row.last_seen_at > LAST_SEEN_GRANULARITY:
            async with self.db.transaction() as conn:
                await store.touch_device(conn, row.device_id, now)
        return Principal(
            user_id=row.user_id, org_id=row.org_id, role=row.role, device_id=row.device_id
        )

    # sign-in

    async def login(self, body: LoginRequest, address: str) -> SessionOut:
        """Sign in. Failures are counted per (account, address): after
        ``login_max_failures_per_address`` that address is refused for that account, and
        only that one. Failures from everywhere only slow the account's sign-ins down
        (``_slow_down``), so a stranger can never lock the owner out. An unknown e-mail is
        counted, slowed and verified against a dummy hash exactly like a known one."""
        s = self.settings
        email = normalise_email(body.email)
        account = digest(email).hex()
        where = ip_hash(s.secret_key, address) or "unknown"
        account_key, pair_key = f"login:acct:{account}", f"login:fail:{account}:{where}"
        await self.limiter.hit(
            "login:ip:" + where, s.login_max_attempts_per_ip, s.login_window_seconds
        )
        await self.limiter.check(pair_key, s.login_max_failures_per_address)
        await self._slow_down(account_key)
        async with self.db.read() as conn:
            user = await store.get_user_by_email(conn, email)
        password_hash = user.password_hash if user is not None else None
        ok = await self.passwords.verify(password_hash, body.password)
        if not ok or user is None or user.disabled_at is not None:
            await self.limiter.store.hit(pair_key, s.login_window_seconds)
            await self.limiter.store.hit(account_key, s.login_window_seconds)
            async with self.db.transaction() as conn:
                await self.audit.record(
                    conn,
                    "login.failed",
                    org_id=user.org_id if user else None,
                    actor_user_id=user.id if user else None,
                    address=address,
                )
            counters.login_failed()
            raise InvalidCredentials("Wrong e-mail or password")
        new_hash = None
        if password_hash and self.passwords.needs_rehash(password_hash):
            new_hash = await self.passwords.hash(body.password)
        async with self.db.transaction() as conn:
            if new_hash is not None:
                await store.update_user(conn, user.id, password_hash=new_hash)
            device_id, token = await open_device_session(conn, user.id, body.device, self.clock())
            await self.audit.record(
                conn,
                "login",
                org_id=user.org_id,
                actor_user_id=user.id,
                target_type="device",
                target_id=device_id,
                details={"rehashed": new_hash is not None} if new_hash else None,
                address=address,
            )
        await self.limiter.store.reset(pair_key)
        return SessionOut(
            token=token, device_id=device_id, user=user_out(user, self.settings.matrix_server_name)
        )

    async def _slow_down(self, account_key: str) -> None:
        """Past ``login_slowdown_after_failures`` failures of the account from anywhere,
        wait before verifying: 0.5 s, doubling with each further failure, up to
        ``login_max_delay_seconds``. Every attempt on the account waits alike (right or
        wrong password, known or unknown e-mail), so the delay tells nothing."""
        s = self.settings
        failures, _ = await self.limiter.store.peek(account_key)
        excess = failures - s.login_slowdown_after_failures
        if excess < 0:
            return
        delay = min(s.login_max_delay_seconds, 0.5 * 2 ** min(excess, 32))
        if excess == 0:
            log.warning("sign-ins of an account are being slowed", extra={"count": failures})
        await asyncio.sleep(delay)

    # the signed-in user

    async def me(self, principal: Principal) -> UserOut:
        async with self.db.read() as conn:
            row = await store.get_user(conn, principal.user_id)
        assert row is not None
        return user_out(row, self.settings.matrix_server_name)

    async def update_profile(self, principal: Principal, body: ProfileUpdate) -> UserOut:
        changes: dict[str, Any] = {}
        if isinstance(body.display_name, str):
            changes["display_name"] = body.display_name.strip()
        if isinstance(body.locale, str):
            changes["locale"] = body.locale
        if changes:
            async with self.db.transaction() as conn:
                await store.update_user(conn, principal.user_id, **changes)
        return await self.me(principal)

    async def change_password(
        self, principal: Principal, body: PasswordChange, address: str
    ) -> int:
        """Change the password and revoke every other device; returns how many."""
        s = self.settings
        account_key = f"password:acct:{principal.user_id}"
        await self.limiter.check(account_key, s.login_max_failures_per_address)
        async with self.db.read() as conn:
            user = await store.get_user(conn, principal.user_id)
        assert user is not None
        if user.password_hash is None:
            raise InvalidInput("This account signs in by pairing", code="no_password")
        if not await self.passwords.verify(user.password_hash, body.current_password):
            await self.limiter.store.hit(account_key, s.login_window_seconds)
            raise InvalidCredentials("The current password is wrong")
        if body.new_password == body.current_password:
            raise InvalidInput("The new password must differ", code="password_unchanged")
        new_hash = await self.passwords.hash(body.new_password)
        async with self.db.transaction() as conn:
            await store.update_user(conn, principal.user_id, password_hash=new_hash)
            revoked = await store.revoke_devices(
                conn, principal.user_id, self.clock(), keep=principal.device_id
            )
            await self.audit.record(
                conn,
                "password.changed",
                org_id=principal.org_id,
                actor=principal,
                details={"revokedDevices": len(revoked)},
                address=address,
            )
        await self._disconnect(principal.user_id, revoked)
        return len(revoked)

    async def check_password(self, principal: Principal, password: str) -> bool:
        """Re-authentication (e.g. replacing cross-signing keys): is this the caller's
        password? Failures count against the same per-account limit as a password change."""
        s = self.settings
        account_key = f"password:acct:{principal.user_id}"
        await self.limiter.check(account_key, s.login_max_failures_per_address)
        async with self.db.read() as conn:
            user = await store.get_user(conn, principal.user_id)
        if user is None or user.password_hash is None or len(password) > 1024:
            return False
        if await self.passwords.verify(user.password_hash, password):
            return True
        await self.limiter.store.hit(account_key, s.login_window_seconds)
        return False

    # devices

    async def list_devices(self, principal: Principal) -> list[DeviceOut]:
        async with self.db.read() as conn:
            rows = await store.list_devices(conn, principal.user_id)
        return [
            DeviceOut(
                id=r.id,
                name=r.name,
                platform=r.platform,
                created_at=r.created_at,
                last_seen_at=r.last_seen_at,
                current=r.id == principal.device_id,
            )
            for r in rows
        ]

    async def revoke_device(self, principal: Principal, device_id: UUID, address: str) -> None:
        async with self.db.transaction() as conn:
            revoked = await store.revoke_devices(
                conn, principal.user_id, self.clock(), only=device_id
            )
            if not revoked:
                raise NotFound("No such device", code="device_not_found")
            await self.audit.record(
                conn,
                "device.revoked",
                org_id=principal.org_id,
                actor=principal,
                target_type="device",
                target_id=device_id,
                address=address,
            )
        await self._disconnect(principal.user_id, revoked)

    async def revoke_all(self, principal: Principal, address: str, *, keep_current: bool) -> int:
        async with self.db.transaction() as conn:
            revoked = await store.revoke_devices(
                conn,
                principal.user_id,
                self.clock(),
                keep=principal.device_id if keep_current else None,
            )
            await self.audit.record(
                conn,
                "device.revoked_all",
                org_id=principal.org_id,
                actor=principal,
                details={"count": len(revoked), "keptCurrent": keep_current},
                address=address,
            )
        await self._disconnect(principal.user_id, revoked)
        return len(revoked)


async def contacts(conn: AsyncConnection, user_ids: Iterable[UUID]) -> dict[UUID, Any]:
    """user id -> (id, org_id, role, locale, email) of the enabled users: whom a notice
    reaches, and in which language."""
    return {r.id: r for r in await store.contacts(conn, list(dict.fromkeys(user_ids)))}
