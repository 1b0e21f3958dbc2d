"""Invites: an admin invites therapists; a therapist invites guardians into a case; a
guardian invites a caregiver (daycare, school) with the scopes the guardian grants.

Codes are single-use, expire, and are stored only as a digest.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts import store
from app.accounts.passwords import Passwords
from app.accounts.schemas import (
    AcceptInvite,
    CaseInviteRequest,
    InviteInfo,
    InviteOut,
    OrgInviteRequest,
    RedeemInvite,
    RedeemOut,
    SessionOut,
)
from app.accounts.service import normalise_email, open_device_session, user_out
from app.accounts.tokens import digest, invite_secret, new_invite_code
from app.audit.service import Audit
from app.cases.service import CaseService
from app.config import Settings
from app.core.errors import Conflict, Forbidden, Gone, NotFound
from app.core.matrix import MatrixIds
from app.core.principal import CaseRole, Principal
from app.core.time import Clock
from app.ratelimit import RateLimiter
from app.storage.engine import Database


class InviteInvalid(NotFound):
    code, title = "invite_invalid", "This invite code is not valid"


class InviterKeyMismatch(Conflict):
    code = "inviter_key_mismatch"
    title = "The inviter's key is not the one in the QR code"


class MasterKeys(Protocol):
    """The users' Matrix master cross-signing keys (``app.keys.cross_signing``)."""

    async def master_key(self, conn: AsyncConnection, user_id: UUID) -> str | None: ...


class InviteService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        passwords: Passwords,
        limiter: RateLimiter,
        audit: Audit,
        cases: CaseService,
        master_keys: MasterKeys,
        clock: Clock,
    ) -> None:
        self.db = db
        self.settings = settings
        self.passwords = passwords
        self.limiter = limiter
        self.audit = audit
        self.cases = cases
        self.master_keys = master_keys
        self.clock = clock
        self.ids = MatrixIds(settings.matrix_server_name)

    async def _limit(self, address: str) -> None:
        s = self.settings
        await self.limiter.hit(
            "invite:ip:" + address, s.login_max_attempts_per_ip, s.login_window_seconds
        )

    async def _create(
        self,
        principal: Principal,
        *,
        role: str,
        case_id: UUID | None,
        scopes: list[str] | None,
        address: str,
    ) -> InviteOut:
        code, invite_id, now = new_invite_code(), uuid.uuid4(), self.clock()
        expires_at = now + timedelta(hours=self.settings.invite_ttl_hours)
        async with self.db.transaction() as conn:
            if case_id is not None:
                member = await self.cases.access(conn, principal, case_id)
                if role == "guardian":
                    member.require("therapist")
                else:
                    member.require("guardian")
            await store.insert_invite(
                conn,
                id=invite_id,
                org_id=principal.org_id,
                case_id=case_id,
                role=role,
                scopes=scopes,
                code_hash=digest(code),
                created_by=principal.user_id,
                created_at=now,
                expires_at=expires_at,
            )
            master_key = await self.master_keys.master_key(conn, principal.user_id)
            await self.audit.record(
                conn,
                "invite.created",
                org_id=principal.org_id,
                actor=principal,
                target_type="invite",
                target_id=invite_id,
                details={"role": role, "caseId": str(case_id) if case_id else None},
                address=address,
            )
        return InviteOut(
            id=invite_id,
            code=code,
            role=role,
            case_id=case_id,
            expires_at=expires_at,
            inviter_user_id=self.ids.user(principal.user_id),
            inviter_master_key=master_key,
        )

    async def create_org_invite(
        self, principal: Principal, body: OrgInviteRequest, address: str
    ) -> InviteOut:
        if principal.role != "admin":
            raise Forbidden("Only an organisation's admin invites staff")
        return await self._create(
            principal, role=body.role, case_id=None, scopes=None, address=address
        )

    async def create_case_invite(
        self, principal: Principal, case_id: UUID, body: CaseInviteRequest, address: str
    ) -> InviteOut:
        scopes = sorted({str(x) for x in body.scopes or []}) if body.role == "caregiver" else None
        return await self._create(
            principal, role=body.role, case_id=case_id, scopes=scopes, address=address
        )

    async def list_case_invites(self, principal: Principal, case_id: UUID) -> list[InviteInfo]:
        async with self.db.read() as conn:
            (await self.cases.access(conn, principal, case_id)).require("therapist", "guardian")
            rows = await store.pending_case_invites(conn, case_id, self.clock())
        return [
            InviteInfo(
                id=r.id,
                role=r.role,
                scopes=r.scopes,
                created_at=r.created_at,
                expires_at=r.expires_at,
            )
            for r in rows
        ]

    async def revoke_case_invite(
        self, principal: Principal, case_id: UUID, invite_id: UUID, address: str
    ) -> None:
        async with self.db.transaction() as conn:
            (await self.cases.access(conn, principal, case_id)).require("therapist", "guardian")
            if not await store.revoke_invite(conn, invite_id, case_id, self.clock()):
                raise NotFound("No such pending invite", code="invite_not_found")
            await self.audit.record(
                conn,
                "invite.revoked",
                org_id=principal.org_id,
                actor=principal,
                target_type="invite",
                target_id=invite_id,
                address=address,
            )

    async def _check_inviter_key(
        self, conn: AsyncConnection, invite: Any, scanned: str | None
    ) -> None:
        """The QR's master key must be the inviter's current one (nothing is joined else).

        The server's word is not what the family relies on: the device compares the key
        that ``keys/query`` returns with the QR's again before it signs it. This check
        makes a mismatch refuse before the account joins the case.
        """
        if scanned is None:
            return
        current = await self.master_keys.master_key(conn, invite.created_by)
        if current is None or not hmac.compare_digest(current, scanned):
            raise InviterKeyMismatch(
                "The inviter's master key is not the one in the QR code; "
                "ask them to show the invite again"
            )

    async def _usable(self, conn: Any, code: str) -> Any:
        secret = invite_secret(code)
        row = await store.invite_by_hash(conn, digest(code)) if secret else None
        if row is None:
            raise InviteInvalid("This invite code is not valid")
        if row.revoked_at is not None:
            raise Gone("This invite was withdrawn", code="invite_revoked")
        if row.used_at is not None:
            raise Gone("This invite has already been used", code="invite_used")
        if row.expires_at <= self.clock():
            raise Gone("This invite has expired; ask for a new one", code="invite_expired")
        if not await self._issuer_still_entitled(conn, row):
            raise Gone(
                "The person who sent this invite can no longer invite; ask for a new one",
                code="invite_revoked",
            )
        return row

    async def _issuer_still_entitled(self, conn: Any, row: Any) -> bool:
        """An invite speaks for its creator: honour it only while the creator could still
        make it (a removed guardian's caregiver invite, a disabled admin's staff invite,
        must not let anyone in)."""
        if row.case_id is None:
            creator = await store.get_user(conn, row.created_by)
            return creator is not None and creator.disabled_at is None and creator.role == "admin"
        issuer_role: CaseRole = "therapist" if row.role == "guardian" else "guardian"
        return await self.cases.holds_role(conn, row.case_id, row.created_by, issuer_role)

    async def accept(self, body: AcceptInvite, address: str) -> SessionOut:
        """Create an account from an invite and sign its first device in."""
        await self._limit(address)
        async with self.db.read() as conn:
            await self._check_inviter_key(
                conn, await self._usable(conn, body.code), body.inviter_master_key
            )
        password_hash = await self.passwords.hash(body.password)
        email, user_id = normalise_email(body.email), uuid.uuid4()
        try:
            async with self.db.transaction() as conn:
                invite = await self._usable(conn, body.code)
                await self._check_inviter_key(conn, invite, body.inviter_master_key)
                holder = await store.get_user_by_email(conn, email)
                if holder is not None and holder.org_id == invite.org_id:
                    raise Conflict(
                        "An account with this e-mail exists; sign in and redeem the invite",
                        code="email_taken",
                    )
                if holder is not None:
                    # Another organisation's address: saying so would let any invite
                    # holder probe every organisation's e-mails. Spend the invite and
                    # answer as for a used one: one probe per invite, telling nothing.
                    await store.claim_invite(conn, invite.id, None, self.clock())
                    session = None
                else:
                    session = await self._create_account(
                        conn, invite, body, email, user_id, password_hash, address
                    )
        except IntegrityError:
            raise Conflict(
                "An account with this e-mail exists; sign in and redeem the invite",
                code="email_taken",
            ) from None
        if session is None:
            raise Gone("This invite has already been used", code="invite_used")
        return session

    async def _create_account(
        self,
        conn: Any,
        invite: Any,
        body: AcceptInvite,
        email: str,
        user_id: UUID,
        password_hash: str,
        address: str,
    ) -> SessionOut:
        await store.insert_user(
            conn,
            id=user_id,
            org_id=invite.org_id,
            role=invite.role,
            email=email,
            display_name=body.display_name.strip(),
            locale=body.locale,
            password_hash=password_hash,
            created_at=self.clock(),
        )
        if not await store.claim_invite(conn, invite.id, user_id, self.clock()):
            raise Gone("This invite has already been used", code="invite_used")
        if invite.case_id is not None:
            await self.cases.add_member(
                conn,
                invite.case_id,
                user_id,
                invite.role,
                scopes=invite.scopes,
                added_by=invite.created_by,
            )
        device_id, token = await open_device_session(conn, user_id, body.device, self.clock())
        await self.audit.record(
            conn,
            "invite.accepted",
            org_id=invite.org_id,
            actor_user_id=user_id,
            target_type="invite",
            target_id=invite.id,
            details={"caseId": str(invite.case_id) if invite.case_id else None},
            address=address,
        )
        user = await store.get_user(conn, user_id)
        return SessionOut(
            token=token, device_id=device_id, user=user_out(user, self.settings.matrix_server_name)
        )

    async def redeem(self, principal: Principal, body: RedeemInvite, address: str) -> RedeemOut:
        """Join another case with an existing account (a guardian of siblings)."""
        await self._limit(address)
        async with self.db.transaction() as conn:
            invite = await self._usable(conn, body.code)
            if invite.org_id != principal.org_id:
                raise InviteInvalid("This invite code is not valid")
            if invite.case_id is None or invite.role != principal.role:
                raise Conflict(
                    f"This invite is for a {invite.role}; your account is a {principal.role}",
                    code="invite_role_mismatch",
                )
            await self._check_inviter_key(conn, invite, body.inviter_master_key)
            if not await store.claim_invite(conn, invite.id, principal.user_id, self.clock()):
                raise Gone("This invite has already been used", code="invite_used")
            await self.cases.add_member(
                conn,
                invite.case_id,
                principal.user_id,
                invite.role,
                scopes=invite.scopes,
                added_by=invite.created_by,
            )
            await self.audit.record(
                conn,
                "invite.redeemed",
                org_id=principal.org_id,
                actor=principal,
                target_type="invite",
                target_id=invite.id,
                details={"caseId": str(invite.case_id)},
                address=address,
            )
        return RedeemOut(case_id=invite.case_id, role=invite.role)
