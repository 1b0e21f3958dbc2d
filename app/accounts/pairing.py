"""Child pairing: a guardian's device shows a short code; the child's device signs in
with it, without a password. Codes are single-use, expire in minutes, and are stored
only as an HMAC keyed with the server secret (a short code's plain hash is guessable)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from uuid import UUID

from app.accounts import store
from app.accounts.schemas import PairingCodeOut, PairRequest, SessionOut
from app.accounts.service import open_device_session, user_out
from app.accounts.tokens import new_pairing_code, normalise_pairing_code
from app.audit.service import Audit
from app.cases.service import CaseService
from app.config import Settings
from app.core.digests import keyed_digest
from app.core.errors import Conflict, Gone, NotFound
from app.core.principal import Principal
from app.core.time import Clock
from app.ratelimit import RateLimiter
from app.storage.engine import Database


class PairingService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        limiter: RateLimiter,
        audit: Audit,
        cases: CaseService,
        clock: Clock,
    ) -> None:
        self.db = db
        self.settings = settings
        self.limiter = limiter
        self.audit = audit
        self.cases = cases
        self.clock = clock

    async def create_code(
        self, principal: Principal, case_id: UUID, address: str
    ) -> PairingCodeOut:
        code, now = new_pairing_code(), self.clock()
        expires_at = now + timedelta(seconds=self.settings.pairing_ttl_seconds)
        async with self.db.transaction() as conn:
            member = (await self.cases.access(conn, principal, case_id)).require("guardian")
            if member.child_user_id is None:
                raise Conflict("This case has no child account", code="no_child")
            code_id = uuid.uuid4()
            await store.insert_pairing_code(
                conn,
                id=code_id,
                case_id=case_id,
                child_user_id=member.child_user_id,
                code_hmac=keyed_digest(self.settings.secret_key, code),
                created_by=principal.user_id,
                created_at=now,
                expires_at=expires_at,
            )
            await self.audit.record(
                conn,
                "pairing.code_created",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                address=address,
            )
        return PairingCodeOut(code=code, expires_at=expires_at)

    async def pair(self, body: PairRequest, address: str) -> SessionOut:
        s = self.settings
        await self.limiter.hit(
            "pair:ip:" + address, s.login_max_attempts_per_ip, s.login_window_seconds
        )
        code_hmac = keyed_digest(s.secret_key, normalise_pairing_code(body.code))
        async with self.db.transaction() as conn:
            row = await store.pairing_by_hmac(conn, code_hmac)
            if row is None:
                raise NotFound("This pairing code is not valid", code="pairing_code_invalid")
            if row.used_at is not None:
                raise Gone("This pairing code has already been used", code="pairing_code_used")
            if row.expires_at <= self.clock():
                raise Gone(
                    "This pairing code has expired; ask for a new one", code="pairing_code_expired"
                )
            if not await self.cases.holds_role(conn, row.case_id, row.created_by, "guardian"):
                # the guardian who made the code has left the case (or was disabled)
                raise Gone(
                    "This pairing code was withdrawn; ask for a new one",
                    code="pairing_code_revoked",
                )
            if not await store.claim_pairing_code(conn, row.id, self.clock()):
                raise Gone("This pairing code has already been used", code="pairing_code_used")
            child = await store.get_user(conn, row.child_user_id)
            if child is None or child.disabled_at is not None:
                raise NotFound("This pairing code is not valid", code="pairing_code_invalid")
            device_id, token = await open_device_session(conn, child.id, body.device, self.clock())
            await self.audit.record(
                conn,
                "pairing.paired",
                org_id=child.org_id,
                actor_user_id=child.id,
                target_type="device",
                target_id=device_id,
                details={"caseId": str(row.case_id)},
                address=address,
            )
        return SessionOut(
            token=token, device_id=device_id, user=user_out(child, self.settings.matrix_server_name)
        )
