"""Hand-over of a case: when its therapist leaves, an admin of the organisation moves the
case to another therapist (audited; the family told by a notice, docs/data-protection.md).

The new therapist becomes a member at once, so their devices join the case's rooms (a
device-list change every member's device sees); history from before stays unreadable to
them unless a member shares keys, as for any new member (docs/protocol.md)."""

from __future__ import annotations

from uuid import UUID

from app.audit.service import Audit
from app.cases import store
from app.cases.schemas import HandOver
from app.cases.service import CaseService, UserDirectory
from app.core import events as ev
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.core.events import DomainEvent
from app.core.fanout import FanOut
from app.core.principal import CaseRole, Principal
from app.storage.engine import Database


class Handover:
    def __init__(
        self, db: Database, audit: Audit, cases: CaseService, users: UserDirectory, fanout: FanOut
    ) -> None:
        self.db = db
        self.audit = audit
        self.cases = cases
        self.users = users
        self.fanout = fanout

    async def hand_over(
        self, principal: Principal, case_id: UUID, body: HandOver, address: str
    ) -> None:
        if principal.role != "admin":
            raise Forbidden("Only an admin hands a case over")
        if body.from_user_id == body.to_user_id:
            raise InvalidInput("Hand the case to someone else", code="same_therapist")
        announcement = self.fanout.begin(principal.device_id)
        async with self.db.transaction() as conn:
            case = await store.get_case(conn, case_id)
            if case is None or case.org_id != principal.org_id:
                raise NotFound("No such case", code="case_not_found")
            user = await self.users.user_facts(conn, body.to_user_id)
            if (
                user is None
                or user.org_id != principal.org_id
                or user.role != "therapist"
                or not user.active
            ):
                raise NotFound("No such therapist in your organisation", code="user_not_found")
            if body.from_user_id is not None:
                old = await store.membership(conn, case_id, body.from_user_id)
                if old is None or old.role != "therapist":
                    raise NotFound("No such therapist of the case", code="member_not_found")
            await self.cases.add_member(
                conn, case_id, body.to_user_id, "therapist", scopes=None, added_by=None
            )
            if body.from_user_id is not None:
                await store.delete_member(conn, case_id, body.from_user_id)
            await self.audit.record(
                conn,
                "case.handed_over",
                org_id=principal.org_id,
                actor=principal,
                target_type="case",
                target_id=case_id,
                details={
                    "toUserId": str(body.to_user_id),
                    "fromUserId": str(body.from_user_id) if body.from_user_id else None,
                },
                address=address,
            )
            guardian: tuple[CaseRole, ...] = ("guardian",)
            family = await self.cases.active_members(conn, case_id, guardian)
            ids = {"caseId": case_id}
            await announcement.notice(
                conn, DomainEvent(ev.CASE_HANDED_OVER, ids, list(family), case_id=case_id)
            )
            everyone = await self.cases.members_by_role(conn, case_id)
            await announcement.live(conn, everyone, ev.CASE_HANDED_OVER, ids)
        await announcement.send()
