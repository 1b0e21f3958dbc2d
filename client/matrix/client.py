"""The reference client's Matrix device: the request loop around :class:`MatrixDevice`.

What the Rust ``OlmMachine`` asks of its app, in Python: keys upload and top-up, keys
query when ``device_lists.changed`` names a tracked user, claims, to-device sends, sync
(``since``, ``timeout``), to-device and room events decrypted, one-time key counts and the
unused fallback key tracked; room sends with Kaari's device-set check (``joined_members``
→ query → claim → share → encrypt → ``PUT …?kaari_device_epoch=``, on 409 sync and again
with a new transaction id); key backup (create, upload after new sessions, restore from
the recovery key) and forwarding of room keys between a user's own verified devices.

Crash safety: the device state is written before any ciphertext leaves (an Olm-encrypted
to-device request is queued in the store in the same transaction as the sessions that
made it, then sent, then dropped from the queue), and everything one sync changes (device
state, decrypted messages, the sync position) is one local transaction. Messages reach
the application once: :meth:`MatrixClient.messages` reads what the store recorded, keyed
by event id.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.keystore import DB_NAME
from client.matrix import receipts
from client.matrix.http import DeviceSetChanged, MatrixError, MatrixHttp
from client.matrix.store import DeviceStore
from crypto.matrix.backup import BackupDecryptionKey
from crypto.matrix.call import CALL_SDP, CallAuthError, call_sdp_content, check_call_sdp
from crypto.matrix.device import MatrixDevice, ToDeviceRequest, ToDeviceResult
from crypto.matrix.errors import MatrixCryptoError
from crypto.matrix.megolm import RotationPolicy
from crypto.matrix.trust import DeviceTrust

ENCRYPTED = "m.room.encrypted"
#: How many times a room send starts over after 409 device_set_changed.
SEND_RETRIES = 3
#: Bounds for one call of :meth:`MatrixClient.load_history`.
HISTORY_PAGES = 20
#: How long :meth:`MatrixClient.authenticate_call_sdp` waits for an authentication to come.
CALL_AUTH_WAIT_SECONDS = 3.0
#: Call authentications kept until their SDP arrives (the oldest go first).
CALL_AUTH_INBOX = 64


class SendFailed(Exception):
    """The device set kept changing: the message was not accepted."""


class BackupMismatch(Exception):
    """The recovery key does not open the user's current backup."""


@dataclass
class SyncResult:
    """What one sync brought: messages newly handed to the app and to-device results."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    to_device: list[Any] = field(default_factory=list)
    next_batch: str = ""
    receipts: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """the read receipts (decrypted ``org.kaari.read`` events) this sync moved forward:
    ``{room: {user: {event_id, ts, at}}}``"""


def _txn() -> str:
    return secrets.token_urlsafe(12)


class MatrixClient:
    def __init__(self, http: MatrixHttp, store: DeviceStore, device: MatrixDevice) -> None:
        self.http = http
        self.store = store
        self.device = device
        #: Forward room keys to our own verified devices that ask for them.
        self.answer_key_requests = True
        #: Per room, the device epoch our device lists were last known to match.
        self._epochs: dict[str, str] = {}
        #: ``org.kaari.call.sdp`` to-device results not yet matched with their SDP.
        self._call_auths: list[ToDeviceResult] = []

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        http: MatrixHttp,
        path: str | os.PathLike[str],
        secret: bytes,
        *,
        policy: RotationPolicy | None = None,
    ) -> MatrixClient:
        """Open the store at ``path`` (create it for the signed-in device) and upload keys."""
        who = http.whoami()
        if (Path(path) / DB_NAME).is_file():
            store = DeviceStore.open(path, secret)
        else:  # the device's first start
            store = DeviceStore.create(path, secret)
        device = store.load_device(policy)
        if device is None:
            device = MatrixDevice.create(who["user_id"], who["device_id"], policy=policy)
            store.save_device(device)
        elif (device.user_id, device.device_id) != (who["user_id"], who["device_id"]):
            store.close()
            raise ValueError("the store belongs to another device than the token's")
        client = cls(http, store, device)
        client.flush_outbox()
        client.upload_keys()
        return client

    def close(self) -> None:
        self.store.close()

    @property
    def user_id(self) -> str:
        return self.device.user_id

    @property
    def device_id(self) -> str:
        return self.device.device_id

    def _save(self) -> None:
        self.store.save_device(self.device)

    # -- keys ------------------------------------------------------------------------------

    def upload_keys(self) -> None:
        """Upload device keys, top up one-time keys, replace a used fallback key."""
        for _ in range(5):
            body = self.device.keys_upload_body()
            if body is None:
                return
            self._save()  # the private halves of what we publish, before publishing
            self.device.on_keys_upload_response(self.http.keys_upload(body))
            self._save()

    def query_keys(self) -> None:
        for _ in range(5):
            body = self.device.keys_query_body()
            if body is None:
                return
            try:
                response = self.http.keys_query(body)
            except BaseException:
                self.device.directory.on_query_response({})  # what was asked stays outdated
                self.device.directory.mark_changed(body["device_keys"])
                raise
            self.device.on_keys_query_response(response)
            self._save()

    def claim_sessions(self, users: Sequence[str]) -> None:
        body = self.device.keys_claim_body(users)
        if body is None:
            return
        self.device.on_keys_claim_response(self.http.keys_claim(body))
        dummies = self.device.take_dummies()
        self._queue([dummies] if dummies is not None else [])

    # -- to-device -------------------------------------------------------------------------

    def _queue(self, requests: Sequence[ToDeviceRequest]) -> None:
        """Persist the state that made these ciphertexts and the requests, then send them."""
        with self.store.transaction():
            self._save()
            for req in requests:
                self.store.queue_to_device(req.event_type, req.txn_id, req.body())
        self.flush_outbox()

    def flush_outbox(self) -> None:
        for name, record in self.store.outbox():
            self.http.send_to_device(record["type"], record["txn"], record["body"])
            self.store.sent(name)

    def send_to_device(
        self, targets: Sequence[tuple[str, str]], event_type: str, content: Mapping[str, Any]
    ) -> None:
        """An Olm-encrypted to-device event of any type to known devices."""
        users = sorted({u for u, _ in targets})
        self.device.track_users(users)
        self.query_keys()
        self.claim_sessions(users)
        self._queue([self.device.to_device_request(targets, event_type, content)])

    # -- calls -----------------------------------------------------------------------------

    def send_call_sdp(
        self, peer_user: str, peer_device: str, *, call_id: str, kind: str, sdp: str
    ) -> None:
        """Authenticate an offer or answer to the one peer device it is for.

        An Olm-encrypted ``org.kaari.call.sdp`` to-device event (:mod:`crypto.matrix.call`)
        goes through the server's to-device mailbox; send the SDP itself to the relay only
        after this returns, so the peer finds the authentication when the SDP arrives.
        """
        content = call_sdp_content(call_id, kind, sdp)
        self.send_to_device([(peer_user, peer_device)], CALL_SDP, content)

    def authenticate_call_sdp(
        self,
        peer_user: str,
        peer_device: str,
        *,
        call_id: str,
        kind: str,
        sdp: str,
        require_verified: bool = False,
        wait_seconds: float = CALL_AUTH_WAIT_SECONDS,
    ) -> None:
        """Raise :class:`~crypto.matrix.call.CallAuthError` unless an authentication from
        the peer device, received through sync's to-device results, vouches for ``sdp``.

        Syncs once; when nothing from the peer is there yet, long-polls for at most
        ``wait_seconds`` (then ``missing_auth``). An authentication is used once: an SDP
        replayed by the relay finds none. When every one waiting fails, the newest one's
        error is raised at once (e.g. ``sdp_changed`` for a swapped fingerprint).
        """
        self.device.track_users([peer_user])
        self.query_keys()  # the peer's cross-signing identity, for its device's trust
        deadline = time.monotonic() + wait_seconds
        self.sync()
        while True:
            error = self._match_call_auth(
                peer_user, peer_device, call_id, kind, sdp, require_verified
            )
            if error is None:
                return
            remaining = deadline - time.monotonic()
            if error.code != "missing_auth" or remaining <= 0:
                raise error
            self.sync(timeout_ms=max(1, int(min(remaining, 1.0) * 1000)))

    def _match_call_auth(
        self,
        peer_user: str,
        peer_device: str,
        call_id: str,
        kind: str,
        sdp: str,
        require_verified: bool,
    ) -> CallAuthError | None:
        """Use up the newest waiting authentication that vouches for ``sdp``; else the error."""
        first: CallAuthError | None = None
        for result in reversed(self._call_auths):
            if result.sender != peer_user:
                continue
            sender = result.olm.sender_device if result.olm is not None else None
            trust = self.device.trust(sender) if sender is not None else DeviceTrust.UNTRUSTED
            try:
                check_call_sdp(
                    result,
                    trust,
                    call_id=call_id,
                    kind=kind,
                    sdp=sdp,
                    peer_user=peer_user,
                    peer_device=peer_device,
                    require_verified=require_verified,
                )
            except CallAuthError as exc:
                first = first or exc
                continue
            self._call_auths.remove(result)
            return None
        return first or CallAuthError("no authentication came from the peer", "missing_auth")

    # -- sync ------------------------------------------------------------------------------

    def sync(self, timeout_ms: int = 0) -> SyncResult:
        """One sync: decrypt, record, advance, then the follow-up requests."""
        self.flush_outbox()
        body = self.http.sync(self.store.since, timeout_ms)
        result = SyncResult(next_batch=str(body["next_batch"]))
        if body.get("kaari.resync"):
            # the server's database went back in time: what we knew of devices may be stale
            self.device.directory.mark_changed(sorted(self.device.directory.tracked))
        lists = body.get("device_lists") or {}
        joined = (body.get("rooms") or {}).get("join", {})
        left = (body.get("rooms") or {}).get("leave", {})
        timelines = {
            room_id: [*self._gap(room_id, entry), *entry.get("timeline", {}).get("events", [])]
            for room_id, entry in [*joined.items(), *left.items()]
        }
        with self.store.transaction():
            result.to_device = self.device.receive_sync(
                (body.get("to_device") or {}).get("events", []),
                lists.get("changed", []),
                lists.get("left", []),
                body.get("device_one_time_keys_count", {}),
                body.get("device_unused_fallback_key_types"),
            )
            for room_id, events in timelines.items():
                for event in events:
                    message = self._room_event(room_id, event)
                    if message is not None:
                        result.messages.append(message)
            result.messages.extend(self._retry_pending())
            result.receipts = receipts.take(self.store, self.http, result.messages)
            self.store.set_since(result.next_batch)
            self._save()
        self._call_auths.extend(r for r in result.to_device if r.type == CALL_SDP)
        del self._call_auths[:-CALL_AUTH_INBOX]
        self._after_sync()
        return result

    def _gap(self, room_id: str, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
        """After ``limited: true``: the unseen events before the timeline, oldest first."""
        timeline = entry.get("timeline", {})
        token = timeline.get("prev_batch")
        if not timeline.get("limited") or not isinstance(token, str) or self.store.since is None:
            return []  # an initial sync reads older history only when asked (load_history)
        older: list[dict[str, Any]] = []
        for _ in range(HISTORY_PAGES):
            page = self.http.messages(room_id, from_token=token)
            chunk = page.get("chunk", [])
            fresh = [e for e in chunk if not self.store.seen_event(str(e.get("event_id")))]
            older.extend(fresh)
            token = page.get("end")
            if token is None or len(fresh) < len(chunk):
                break  # the start of the room, or back where we were
        return list(reversed(older))

    def _after_sync(self) -> None:
        self.upload_keys()
        self.query_keys()
        self.backup_keys()
        if self.answer_key_requests:
            self._answer_key_requests()

    def _room_event(self, room_id: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """Decrypt and record one timeline event (in the caller's transaction)."""
        event_id = event.get("event_id")
        if event.get("type") != ENCRYPTED or not isinstance(event_id, str):
            return None  # membership events and the like: nothing for the app
        if self.store.seen_event(event_id):
            return None
        try:
            decrypted = self.device.decrypt_room_event(event, room_id)
        except MatrixCryptoError as exc:
            self.store.add_pending(room_id, event, exc.code)
            return None
        sender_device = decrypted.sender_device
        message = {
            "event_id": event_id,
            "room_id": room_id,
            "sender": decrypted.event.sender,
            "sender_device": sender_device.device_id if sender_device else None,
            "type": decrypted.event.type,
            "content": decrypted.event.content,
            "origin_server_ts": event.get("origin_server_ts"),
            "trust": decrypted.trust.value,
            "authenticated": decrypted.authenticated,
        }
        return message if self.store.deliver(message) else None

    def _retry_pending(self) -> list[dict[str, Any]]:
        out = []
        for record in self.store.pending():
            message = self._room_event(record["room_id"], record["event"])
            if message is not None:
                out.append(message)
        return out

    def retry_pending(self) -> list[dict[str, Any]]:
        """Decrypt what waited for its key (after a restore or a forwarded key)."""
        with self.store.transaction():
            out = self._retry_pending()
            receipts.take(self.store, self.http, out)
            self._save()
        return out

    def messages(self, room_id: str | None = None) -> list[dict[str, Any]]:
        """Every message handed to the application, in the order it was, once each."""
        return [m for m in self.store.messages() if room_id is None or m["room_id"] == room_id]

    def room_event(self, room_id: str, event_id: str) -> dict[str, Any] | None:
        """The decrypted message of one event of a room: recorded already, or fetched by
        id and decrypted (and recorded); ``None`` while its key is missing (the event then
        waits in :meth:`undecryptable` and is retried on new keys)."""
        known = self.store.message(event_id)
        if known is not None:
            return known if known["room_id"] == room_id else None
        event = self.http.room_event(room_id, event_id)
        if event.get("event_id") != event_id:
            return None
        with self.store.transaction():
            message = self._room_event(room_id, event)
            receipts.take(self.store, self.http, [message] if message else [])
            self._save()
        return message

    def send_read_receipt(self, room_id: str, event_id: str) -> str:
        """Tell the room's members, encrypted, that we have read it up to ``event_id``
        (an ``org.kaari.read`` event, no "new message" notice); its event id."""
        return self.send_message(room_id, {"event_id": event_id}, receipts.READ_EVENT)

    def read_receipts(self, room_id: str) -> dict[str, dict[str, Any]]:
        """The room's members' latest read receipts decrypted so far: ``{user: {event_id,
        ts, at}}`` (``ts`` when the receipt was sent, ``at`` when the event it covers up
        to was; ours too: where our other devices have read to)."""
        return self.store.receipts().get(room_id, {})

    def texts(self, room_id: str) -> list[str]:
        return [
            str(m["content"].get("body"))
            for m in self.messages(room_id)
            if m["type"] == "m.room.message"
        ]

    def undecryptable(self) -> list[dict[str, Any]]:
        return self.store.pending()

    def load_history(self, room_id: str) -> list[dict[str, Any]]:
        """Page the room's history backwards and decrypt what we hold keys for."""
        token: str | None = None
        events: list[dict[str, Any]] = []
        for _ in range(HISTORY_PAGES):
            page = self.http.messages(room_id, from_token=token)
            events.extend(page.get("chunk", []))
            token = page.get("end")
            if token is None:
                break
        with self.store.transaction():
            out = [m for m in (self._room_event(room_id, e) for e in reversed(events)) if m]
            receipts.take(self.store, self.http, out)
            self._save()
        return out

    # -- rooms -----------------------------------------------------------------------------

    def prepare_room(self, room_id: str, *, only_verified: bool = False) -> tuple[list[str], str]:
        """Members and epoch, then keys queried, sessions claimed, the room key shared.

        With ``only_verified`` the key goes only to devices verified for us (for example the
        therapist after :func:`client.matrix.verify.verify_from_qr`); the others are told
        ``m.room_key.withheld`` with ``m.unverified``.
        """
        members, epoch = self.http.joined_members(room_id)
        self.device.track_users(members)
        if self._epochs.get(room_id) != epoch:
            # The set changed since we last encrypted here, maybe before our last sync
            # told us: the server's epoch is current, our device lists may not be.
            self.device.directory.mark_changed(members)
        self.query_keys()
        self.claim_sessions(members)
        self._queue(self.device.share_room_key(room_id, members, only_verified=only_verified))
        self.backup_keys()
        return members, epoch

    def send_message(
        self,
        room_id: str,
        content: Mapping[str, Any],
        event_type: str = "m.room.message",
        *,
        retries: int = SEND_RETRIES,
        only_verified: bool = False,
    ) -> str:
        """Encrypt for exactly the room's current devices and send; the event id."""
        for _ in range(retries + 1):
            _, epoch = self.prepare_room(room_id, only_verified=only_verified)
            encrypted = self.device.encrypt_room_event(room_id, event_type, content)
            self._save()  # the advanced ratchet before the ciphertext leaves
            try:
                # only a message is a "new message" notice; Kaari's own content events
                # (details, notes, homework, documents) are announced by their own notices
                notify = event_type == "m.room.message"
                event_id = self.http.send_room_event(
                    room_id, _txn(), encrypted, epoch, notify=notify
                )
            except DeviceSetChanged:
                self.sync()  # device_lists name who changed; then start over
                continue
            self._epochs[room_id] = epoch
            return event_id
        raise SendFailed(f"the device set of {room_id} kept changing")

    def send_text(self, room_id: str, text: str) -> str:
        return self.send_message(room_id, {"msgtype": "m.text", "body": text})

    # -- key backup ------------------------------------------------------------------------

    def create_backup(self) -> str:
        """A new backup version for the user; the recovery key to show them."""
        key, body = self.device.create_backup()
        version = self.http.create_backup_version(body)
        with self.store.transaction():
            self.device.enable_backup(key.public_key, version)
            self.store.set_backup_key(key.to_base64())
            self._save()
        self.backup_keys()
        return key.recovery_key

    def restore_backup(self, recovery_key: str) -> list[dict[str, Any]]:
        """Restore the room keys from the backup, back up from now on; newly readable messages."""
        key = BackupDecryptionKey.from_recovery_key(recovery_key)
        current = self.http.backup_version()
        if current is None or (current.get("auth_data") or {}).get("public_key") != key.public_key:
            raise BackupMismatch("the recovery key does not open the current backup")
        version = str(current["version"])
        response = self.http.get_backup_keys(version)
        with self.store.transaction():
            self.device.enable_backup(key.public_key, version)
            self.device.restore_backup(key, response)
            self.store.set_backup_key(key.to_base64())
            out = self._retry_pending()
            self._save()
        self.backup_keys()
        return out

    def backup_keys(self) -> None:
        """Upload the sessions not backed up yet to the current backup version."""
        request = self.device.backup_request()
        if request is None:
            return
        version, body, sessions = request
        try:
            self.http.put_backup_keys(version, body)
        except MatrixError as exc:
            if exc.errcode != "M_WRONG_ROOM_KEYS_VERSION":
                raise
            self.device.backup = None  # another device replaced the backup: re-enter the key
            self.device.backup_version = None
            self._save()
            return
        self.device.on_backup_response(sessions)
        self._save()

    # -- cross-signing, forwarding between own devices -------------------------------------

    def bootstrap_cross_signing(self) -> str:
        """New cross-signing keys for the user (first upload needs no password); the master key."""
        upload, signatures = self.device.bootstrap_cross_signing()
        self._save()
        self.http.device_signing_upload(upload)
        self.http.signatures_upload(signatures)
        identity = self.device.own_identity()
        assert identity is not None
        return identity.master.public_key

    def verify_own_device(self, device_id: str) -> None:
        """Cross-sign another device of ours (checked out of band: QR or SAS)."""
        self.device.track_users([self.user_id])
        self.query_keys()
        self.http.signatures_upload(self.device.sign_own_device(device_id))
        self.device.directory.mark_changed([self.user_id])  # the keys now carry our signature
        self.query_keys()

    def trust_own_master_key(self, master_key: str) -> None:
        """On a new device: our user's master key, as our other device showed it."""
        self.device.trust_own_master_key(master_key)
        self.device.track_users([self.user_id])
        self.device.directory.mark_changed([self.user_id])
        self._save()
        self.query_keys()

    def request_missing_keys(self) -> int:
        """Ask our own other devices for the keys of the events we cannot decrypt."""
        wanted = {
            (p["room_id"], p["event"]["content"].get("session_id"))
            for p in self.store.pending()
            if isinstance(p["event"].get("content"), Mapping)
        }
        messages: dict[str, dict[str, Any]] = {}
        for room_id, session_id in sorted(w for w in wanted if isinstance(w[1], str)):
            request = self.device.room_key_request(room_id, session_id)
            messages = {self.user_id: {"*": request.content()}}
            self.http.send_to_device("m.room_key_request", _txn(), {"messages": messages})
        return len(wanted)

    def _answer_key_requests(self) -> None:
        requests, self.device.key_requests = self.device.key_requests, []
        if not requests:
            return
        self.claim_sessions([self.user_id])  # an Olm session to each asking device
        answers = []
        for request in requests:
            if request.action != "request" or request.room_id is None or not request.session_id:
                continue
            try:
                content = self.device.forward_room_key(
                    self.user_id, request.requesting_device_id, request.room_id, request.session_id
                )
            except MatrixCryptoError:
                continue  # not ours to give, not verified, or we do not hold it
            answers.append(
                ToDeviceRequest(
                    ENCRYPTED, _txn(), {self.user_id: {request.requesting_device_id: content}}
                )
            )
        self._queue(answers)
