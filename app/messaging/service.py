"""Rules of messaging (DESIGN.md sections 5 and 6, docs/messaging.md).

* A case has two threads: ``family`` (therapists and guardians) and ``child`` (also the
  child). Membership is the case's; nothing is copied. Caregivers are in neither.
* A send carries one Olm ciphertext per recipient device. The recipients must be exactly
  the thread's current devices (every live, keyed device of its members, minus the
  sending device); otherwise 409 ``device_set_mismatch`` names the missing and the
  stale devices and nothing is stored. Each ciphertext must name the sender and its
  recipient, so it cannot be re-addressed.
* The envelope and one mailbox row per device are stored in one transaction; the
  recipients are woken after the commit. The sender's ``clientMessageId`` makes a
  retried send return the first result.
* A device reads its mailbox after a cursor and acknowledges up to a sequence; the
  acknowledged rows are deleted and recorded as "delivered to device" (the only
  receipt the server sees; read receipts are end-to-end encrypted payloads).
* Rows of a thread the user has left are never handed out; everything expires after
  ``message_retention_days``.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.cases.service import CaseService, Membership
from app.config import Settings
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.events import MESSAGE_DELIVERED
from app.core.principal import CaseRole, Principal
from app.core.time import Clock
from app.keys.service import KeyService
from app.messaging import store
from app.messaging.schemas import (
    MAX_RECIPIENTS,
    AckResult,
    DeliveriesOut,
    DeliveryOut,
    MailboxItem,
    MailboxPage,
    SendRequest,
    SendResult,
    ThreadDevice,
    ThreadDevices,
    ThreadKind,
    ThreadOut,
)
from app.realtime.notifier import Notifier
from app.storage.engine import Database

log = logging.getLogger("kaari.messaging")

THREAD_ROLES: dict[str, tuple[CaseRole, ...]] = {
    "family": ("therapist", "guardian"),
    "child": ("therapist", "guardian", "child"),
}
THREAD_NAMESPACE = uuid.UUID("6f1c3f0e-3b5e-4f55-9d59-6b6172690001")
MAX_PAGE = 200

# live events (docs/realtime.md)

_encoder = msgspec.json.Encoder()


def thread_id_of(case_id: UUID, kind: str) -> UUID:
    """Thread ids are derived from the case, so creating them never races."""
    return uuid.uuid5(THREAD_NAMESPACE, f"{case_id}:{kind}")


KINDS: tuple[ThreadKind, ...] = ("family", "child")


def kinds_for(role: CaseRole) -> list[ThreadKind]:
    return [k for k in KINDS if role in THREAD_ROLES[k]]


@dataclass(frozen=True, slots=True)
class ThreadAccess:
    thread_id: UUID
    case_id: UUID
    kind: ThreadKind
    membership: Membership


class DeviceSetMismatch(Conflict):
    def __init__(self, missing: list[ThreadDevice], stale: list[UUID]) -> None:
        super().__init__(
            "The recipients are not the thread's current devices: "
            "encrypt for the missing ones, drop the stale ones, and send again",
            code="device_set_mismatch",
            extra={
                "missing": [msgspec.to_builtins(d) for d in missing],
                "stale": [str(d) for d in stale],
            },
        )


class MessagingService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        cases: CaseService,
        keys: KeyService,
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self.db = db
        self.settings = settings
        self.cases = cases
        self.keys = keys
        self.notifier = notifier
        self.clock = clock

    # threads

    async def mailbox_depth(self) -> int:
        """For metrics: rows waiting in every device's mailbox (undelivered ciphertexts)."""
        async with self.db.read() as conn:
            return await store.mailbox_depth(conn)

    async def list_threads(
        self, principal: Principal, case_id: UUID | None = None
    ) -> list[ThreadOut]:
        async with self.db.transaction() as conn:
            if case_id is not None:
                memberships = [await self.cases.access(conn, principal, case_id)]
            else:
                memberships = await self.cases.memberships(conn, principal)
            out: list[ThreadOut] = []
            rows: list[dict[str, Any]] = []
            now = self.clock()
            for m in memberships:
                for kind in kinds_for(m.role):
                    tid = thread_id_of(m.case_id, kind)
                    rows.append({"id": tid, "case_id": m.case_id, "kind": kind, "created_at": now})
                    out.append(
                        ThreadOut(id=tid, case_id=m.case_id, kind=kind, child_name=m.child_name)
                    )
            await store.ensure_threads(conn, rows)
        return out

    async def access(
        self, conn: AsyncConnection, principal: Principal, thread_id: UUID
    ) -> ThreadAccess:
        """The caller's access to a thread; 404 ``thread_not_found`` for anyone outside it."""
        row = await store.get_thread(conn, thread_id)
        if row is None:
            raise NotFound("No such thread", code="thread_not_found")
        try:
            membership = await self.cases.access(conn, principal, row.case_id)
        except NotFound:
            raise NotFound("No such thread", code="thread_not_found") from None
        if row.kind not in THREAD_ROLES or membership.role not in THREAD_ROLES[row.kind]:
            raise NotFound("No such thread", code="thread_not_found")
        return ThreadAccess(row.id, row.case_id, row.kind, membership)

    async def _devices(
        self, conn: AsyncConnection, thread: ThreadAccess, sender_device: UUID
    ) -> dict[UUID, UUID]:
        members = await self.cases.active_members(conn, thread.case_id, THREAD_ROLES[thread.kind])
        devices = await self.keys.live_devices(conn, members)
        devices.pop(sender_device, None)
        return devices

    async def thread_devices(self, principal: Principal, thread_id: UUID) -> ThreadDevices:
        async with self.db.read() as conn:
            thread = await self.access(conn, principal, thread_id)
            devices = await self._devices(conn, thread, principal.device_id)
        return ThreadDevices(
            thread_id=thread.thread_id,
            devices=[
                ThreadDevice(user_id=u, device_id=d)
                for d, u in sorted(devices.items(), key=lambda i: (str(i[1]), str(i[0])))
            ],
        )

    # sending

    async def send(
        self, principal: Principal, thread_id: UUID, body: SendRequest
    ) -> tuple[SendResult, bool]:
        """Store one message for every device of the thread; (result, created)."""
        if len(body.ciphertexts) > MAX_RECIPIENTS:
            raise InvalidInput(
                f"A message goes to at most {MAX_RECIPIENTS} devices", code="too_many_recipients"
            )
        try:
            return await self._send(principal, thread_id, body)
        except IntegrityError:
            # the same client message id raced in from a concurrent retry: its first result
            async with self.db.read() as conn:
                first = await store.envelope_by_client_id(
                    conn, principal.device_id, body.client_message_id
                )
            if first is None:
                raise
            if first.thread_id != thread_id:
                raise _reused() from None
            return _result(first), False

    async def _send(
        self, principal: Principal, thread_id: UUID, body: SendRequest
    ) -> tuple[SendResult, bool]:
        now = self.clock()
        async with self.db.transaction() as conn:
            thread = await self.access(conn, principal, thread_id)
            own_curve = await self.keys.curve25519_of(conn, principal.device_id)
            if own_curve is None:
                raise Conflict(
                    "Upload this device's keys before sending", code="device_keys_missing"
                )
            for device_id, ct in body.ciphertexts.items():
                if ct.recipient_device_id != device_id:
                    raise InvalidInput(
                        "Each ciphertext must name the device it is keyed under",
                        code="ciphertext_mismatch",
                    )
                sender = (ct.sender_user_id, ct.sender_device_id, ct.sender_curve25519)
                if sender != (principal.user_id, principal.device_id, own_curve):
                    raise InvalidInput(
                        "Each ciphertext must name the sending device and its key",
                        code="ciphertext_mismatch",
                    )
            first = await store.envelope_by_client_id(
                conn, principal.device_id, body.client_message_id
            )
            if first is not None:
                if first.thread_id != thread.thread_id:
                    raise _reused()
                return _result(first), False
            expected = await self._devices(conn, thread, principal.device_id)
            missing = [
                ThreadDevice(user_id=u, device_id=d)
                for d, u in expected.items()
                if d not in body.ciphertexts
            ]
            stale = [d for d in body.ciphertexts if d not in expected]
            if missing or stale:
                raise DeviceSetMismatch(missing, stale)
            for device_id, ct in body.ciphertexts.items():
                if ct.recipient_user_id != expected[device_id]:
                    raise InvalidInput(
                        "A ciphertext names another user than its device's",
                        code="ciphertext_mismatch",
                    )
            envelope_id = uuid.uuid4()
            expires = now + timedelta(days=self.settings.message_retention_days)
            values = {
                "id": envelope_id,
                "thread_id": thread.thread_id,
                "sender_user_id": principal.user_id,
                "sender_device_id": principal.device_id,
                "client_message_id": body.client_message_id,
                "recipient_count": len(expected),
                "created_at": now,
                "expires_at": expires,
            }
            await store.insert_envelope(conn, **values)
            seqs = await store.next_sequences(conn, body.ciphertexts.keys())
            await store.insert_mailbox_rows(
                conn,
                [
                    {
                        "device_id": device_id,
                        "seq": seqs[device_id],
                        "envelope_id": envelope_id,
                        "ciphertext": _encoder.encode(ct).decode(),
                        "expires_at": expires,
                    }
                    for device_id, ct in body.ciphertexts.items()
                ],
            )
        for device_id, seq in seqs.items():
            await self.notifier.wake(device_id, seq)
        log.info(
            "message stored",
            extra={"thread_id": str(thread.thread_id), "count": len(seqs)},
        )
        return (
            SendResult(
                id=envelope_id,
                thread_id=thread.thread_id,
                client_message_id=body.client_message_id,
                sent_at=now,
                recipients=len(expected),
            ),
            True,
        )

    # mailboxes

    async def fetch(self, principal: Principal, after: int, limit: int) -> MailboxPage:
        limit = max(1, min(limit, MAX_PAGE))
        async with self.db.read() as conn:
            rows = await store.mailbox_page(
                conn, principal.device_id, principal.user_id, after, limit + 1, self.clock()
            )
        more = len(rows) > limit
        items = [_item(r) for r in rows[:limit]]
        return MailboxPage(items=items, up_to_seq=items[-1].seq if items else after, more=more)

    async def acknowledge(self, principal: Principal, up_to: int) -> AckResult:
        now = self.clock()
        async with self.db.transaction() as conn:
            last = await store.last_sequence(conn, principal.device_id)
            if up_to > last:
                raise InvalidInput(
                    "Acknowledged past the last message of this device", code="ack_ahead"
                )
            removed = await store.acknowledge(conn, principal.device_id, principal.user_id, up_to)
            await store.insert_deliveries(
                conn,
                [
                    {
                        "envelope_id": r.id,
                        "device_id": principal.device_id,
                        "user_id": principal.user_id,
                        "delivered_at": now,
                    }
                    for r in removed
                ],
            )
            senders: dict[UUID, list[Any]] = defaultdict(list)
            for r in removed:
                senders[r.sender_user_id].append(r)
            audience = await self.keys.live_devices(conn, senders) if senders else {}
        by_user: dict[UUID, list[UUID]] = defaultdict(list)
        for device_id, user_id in audience.items():
            by_user[user_id].append(device_id)
        for user_id, envelopes in senders.items():
            for r in envelopes:
                await self.notifier.send_event(
                    by_user.get(user_id, []),
                    MESSAGE_DELIVERED,
                    {
                        "threadId": r.thread_id,
                        "envelopeId": r.id,
                        "deviceId": principal.device_id,
                    },
                )
        return AckResult(up_to_seq=up_to, removed=len(removed))

    async def deliveries(self, principal: Principal, envelope_id: UUID) -> DeliveriesOut:
        """Which devices have the message; only the sender's user may ask."""
        async with self.db.read() as conn:
            envelope = await store.get_envelope(conn, envelope_id)
            if envelope is None or envelope.sender_user_id != principal.user_id:
                raise NotFound("No such message", code="message_not_found")
            await self.access(conn, principal, envelope.thread_id)
            rows = await store.deliveries_of(conn, envelope_id)
        return DeliveriesOut(
            envelope_id=envelope_id,
            recipients=envelope.recipient_count,
            delivered=[
                DeliveryOut(user_id=r.user_id, device_id=r.device_id, delivered_at=r.delivered_at)
                for r in rows
            ],
        )


def _reused() -> Conflict:
    return Conflict(
        "This client message id was used for another thread", code="client_message_id_reused"
    )


def _result(row: Any) -> SendResult:
    return SendResult(
        id=row.id,
        thread_id=row.thread_id,
        client_message_id=row.client_message_id,
        sent_at=row.created_at,
        recipients=row.recipient_count,
    )


def _item(row: Any) -> MailboxItem:
    return MailboxItem(
        seq=row.seq,
        envelope_id=row.envelope_id,
        thread_id=row.thread_id,
        case_id=row.case_id,
        sender_user_id=row.sender_user_id,
        sender_device_id=row.sender_device_id,
        sent_at=row.created_at,
        ciphertext=msgspec.Raw(row.ciphertext.encode()),
    )
