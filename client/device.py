"""The device side of the protocol: one ``Device`` per installed app.

A :class:`Device` owns an encrypted key store on disk (see
:mod:`client.keystore`), its Olm account, its pairwise Olm sessions (per peer
device, one record per session), the peer devices it has seen, and
duplicate-detection tags; its Megolm sessions per case are
:attr:`Device.cases` (:mod:`client.case_sessions`). Every state change is
persisted (one SQLite transaction, one fsync) before a ciphertext or plaintext
is handed out, so a crash never reuses a ratchet step or loses a received
message's session. A decrypt writes only the Olm session record that changed
and two small tags (ciphertext, message id), not the whole duplicate history.

The HTTP/WebSocket transport is not here: the caller moves the wire Structs
(:class:`crypto.envelope.OlmCiphertext`, :class:`crypto.envelope.MegolmCiphertext`)
and fills :class:`PeerDevice` from the server's key directory.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import msgspec

from client.case_sessions import CaseSessions
from client.keystore import KeyStore
from crypto.canonical import b64decode, b64encode
from crypto.cross_signing import UserMasterKey
from crypto.envelope import (
    MAX_PLAINTEXT,
    OlmCiphertext,
    OlmPlaintext,
    decode,
    encode,
)
from crypto.errors import (
    BindingError,
    CorruptStoreError,
    DecryptionError,
    DuplicateMessageError,
    EncodingError,
    SessionError,
    StoreError,
)
from crypto.identity import verify_device_bundle, verify_one_time_key
from crypto.olm import PRE_KEY, OlmAccount, OlmSession, decode_body
from crypto.payloads import PartyKeys, Payload
from crypto.signing import Signer

#: How many one-time keys the device keeps on the server (vodozemac keeps at most 100).
ONE_TIME_KEY_TARGET = 50
#: How many processed ciphertexts / message ids are remembered for duplicates (each).
SEEN_LIMIT = 20_000
#: Olm sessions kept per peer device (newest first).
SESSIONS_PER_PEER = 5


class PeerDevice(msgspec.Struct, frozen=True, rename="camel"):
    """A recipient as the key directory describes it.

    ``one_time_key`` is a claimed (verified) one-time or fallback Curve25519
    key, needed only when no Olm session with this device exists yet.
    """

    user_id: str
    device_id: str
    curve25519: str
    ed25519: str
    one_time_key: str | None = None

    @classmethod
    def from_bundle(
        cls, bundle: Mapping[str, Any], claimed_key: Mapping[str, Any] | None = None
    ) -> PeerDevice:
        """Verify a device bundle (and a claimed key object) from the server."""
        keys = verify_device_bundle(bundle)
        otk = None
        if claimed_key is not None:
            otk = verify_one_time_key(claimed_key, keys.user_id, keys.device_id, keys.ed25519)
        return cls(keys.user_id, keys.device_id, keys.curve25519, keys.ed25519, otk)

    def party(self) -> PartyKeys:
        return PartyKeys(self.user_id, self.device_id, self.curve25519, self.ed25519)


class Received(msgspec.Struct, frozen=True):
    """A decrypted pairwise message, authenticated to ``sender``."""

    message_id: str
    sent_at: int
    sender: PartyKeys
    payload: Payload


# -- persisted records -------------------------------------------------------
class _State(msgspec.Struct):
    """The device's state record; ``inbound_by_case`` indexes :attr:`Device.cases`."""

    v: int
    user_id: str
    device_id: str
    master_seed: str | None = None
    peers: dict[str, PartyKeys] = msgspec.field(default_factory=dict)
    inbound_by_case: dict[str, list[str]] = msgspec.field(default_factory=dict)


class _OlmRecord(msgspec.Struct):
    """One Olm session with one peer; ``last_used`` orders a peer's sessions."""

    their_curve25519: str
    last_used: int
    pickle: str


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Device:
    """One device's keys and sessions, persisted in an encrypted directory."""

    def __init__(self, store: KeyStore, account: OlmAccount, state: _State) -> None:
        self._store = store
        self._account = account
        self._state = state
        # per peer Curve25519 key: sessions newest first, and their record names
        self._olm: dict[str, list[OlmSession]] = {}
        self._olm_used: dict[str, int] = {}
        #: The Megolm sessions per case (case content: homework, notes).
        self.cases = CaseSessions(store, self, _now_ms)

    # -- lifecycle -----------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        secret: bytes,
        user_id: str,
        device_id: str,
        *,
        master_key: UserMasterKey | None = None,
    ) -> Device:
        """Create a new device with fresh keys in an empty directory."""
        store = KeyStore.create(path, secret, seen_limit=2 * SEEN_LIMIT)
        account = OlmAccount.create(user_id, device_id)
        state = _State(
            v=1,
            user_id=user_id,
            device_id=device_id,
            master_seed=b64encode(master_key.seed) if master_key else None,
        )
        device = cls(store, account, state)
        with store.transaction():
            device._save_account()
            device._save_state()
        return device

    @classmethod
    def open(cls, path: str | os.PathLike[str], secret: bytes) -> Device:
        """Open an existing device; :class:`StoreError` on a wrong secret or corruption."""
        store = KeyStore.open(path, secret, seen_limit=2 * SEEN_LIMIT)
        raw_state = store.get("state")
        raw_account = store.get("account")
        if raw_state is None or raw_account is None:
            raise CorruptStoreError("key store lacks its state or account record")
        try:
            state = msgspec.json.decode(raw_state, type=_State)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CorruptStoreError("device state record is unreadable") from exc
        account = OlmAccount.from_pickle(
            raw_account.decode("ascii", "replace"),
            store.keys.pickle_key,
            state.user_id,
            state.device_id,
        )
        return cls(store, account, state)

    def _save_account(self) -> None:
        self._store.put(
            "account", self._account.pickle(self._store.keys.pickle_key).encode("ascii")
        )

    def close(self) -> None:
        """Close the key store (the object is unusable afterwards)."""
        self._store.close()

    def _save_state(self) -> None:
        self._store.put("state", msgspec.json.encode(self._state))

    # -- application records -------------------------------------------------
    # The client's own data (received messages, its mailbox cursor), encrypted at rest
    # like the keys. Names: lower-case letters, digits, "_", "." and "-".

    def transaction(self) -> AbstractContextManager[None]:
        """Group application writes (and decrypts) into one atomic commit."""
        return self._store.transaction()

    def put_record(self, name: str, data: bytes) -> None:
        self._store.put(f"app.{name}", data)

    def get_record(self, name: str) -> bytes | None:
        return self._store.get(f"app.{name}")

    def record_names(self, prefix: str) -> list[str]:
        return [n.removeprefix("app.") for n in self._store.names(f"app.{prefix}")]

    # -- identity ------------------------------------------------------------
    @property
    def user_id(self) -> str:
        return self._state.user_id

    @property
    def device_id(self) -> str:
        return self._state.device_id

    @property
    def curve25519(self) -> str:
        return self._account.curve25519

    @property
    def ed25519(self) -> str:
        return self._account.ed25519

    @property
    def keys(self) -> PartyKeys:
        return PartyKeys(self.user_id, self.device_id, self.curve25519, self.ed25519)

    @property
    def signer(self) -> Signer:
        """Signs bytes with this device's Ed25519 key (e.g. :func:`crypto.megolm.sign_session`)."""
        return self._account.sign

    @property
    def master_key(self) -> UserMasterKey | None:
        seed = self._state.master_seed
        return UserMasterKey(self.user_id, b64decode(seed)) if seed else None

    def signed_device_bundle(self) -> dict[str, Any]:
        """The self-signed bundle (cross-signed too if this device holds the master key)."""
        bundle = self._account.signed_device_bundle()
        master = self.master_key
        return master.sign_device(bundle) if master else bundle

    def one_time_keys_to_upload(self, server_count: int) -> dict[str, dict[str, Any]]:
        """Signed one-time keys to upload so the server holds :data:`ONE_TIME_KEY_TARGET`.

        Returns every not-yet-published key (so a failed upload is simply retried
        with the same keys) plus fresh ones. Call :meth:`mark_keys_published`
        after the server accepted them.
        """
        pending = self._account.unpublished_one_time_keys()
        missing = ONE_TIME_KEY_TARGET - max(server_count, 0) - len(pending)
        if missing > 0:
            self._account.generate_one_time_keys(missing)
            self._save_account()
            pending = self._account.unpublished_one_time_keys()
        return pending

    def fallback_key_to_upload(self) -> dict[str, dict[str, Any]]:
        """The signed unpublished fallback key, creating one if none is pending."""
        pending = self._account.unpublished_fallback_key()
        if not pending:
            return self.rotate_fallback_key()
        return pending

    def rotate_fallback_key(self) -> dict[str, dict[str, Any]]:
        """New fallback key (the previous one keeps working until the next rotation)."""
        self._account.generate_fallback_key()
        self._save_account()
        return self._account.unpublished_fallback_key()

    def mark_keys_published(self) -> None:
        """The server stored the keys returned by the ``*_to_upload`` methods."""
        self._account.mark_keys_as_published()
        self._save_account()

    # -- Olm -----------------------------------------------------------------
    def _sessions(self, curve: str) -> list[OlmSession]:
        """The sessions with a peer device, most recently used first."""
        if curve not in self._olm:
            key = self._store.keys.pickle_key
            loaded: list[tuple[int, OlmSession]] = []
            for name in self._store.names(self._olm_prefix(curve) + "."):
                record = self._store.get_json(name, _OlmRecord)
                if record is None or record.their_curve25519 != curve:
                    raise CorruptStoreError(f"Olm session record {name!r} names another peer")
                session = OlmSession.from_pickle(record.pickle, key, curve)
                loaded.append((record.last_used, session))
            loaded.sort(key=lambda item: item[0], reverse=True)
            self._olm[curve] = [session for _, session in loaded]
            self._olm_used[curve] = loaded[0][0] if loaded else 0
        return self._olm[curve]

    def _olm_prefix(self, curve: str) -> str:
        return self._store.tagged_name("olm", "olm-peer", curve)

    def _olm_name(self, curve: str, session: OlmSession) -> str:
        session_tag = self._store.keys.tag("olm-session", session.session_id).hex()
        return f"{self._olm_prefix(curve)}.{session_tag}"

    def _save_session(self, curve: str, session: OlmSession) -> None:
        """Persist one session as the peer's most recently used; drop the oldest beyond the cap."""
        sessions = self._olm[curve]
        if session in sessions:
            sessions.remove(session)
        sessions.insert(0, session)
        name = self._olm_name(curve, session)
        used = self._olm_used.get(curve, 0) + 1
        self._olm_used[curve] = used
        record = _OlmRecord(curve, used, session.pickle(self._store.keys.pickle_key))
        with self._store.transaction():
            self._store.put(name, msgspec.json.encode(record))
            for old in sessions[SESSIONS_PER_PEER:]:
                self._store.delete(self._olm_name(curve, old))
        del sessions[SESSIONS_PER_PEER:]

    def has_session_with(self, curve25519: str) -> bool:
        return bool(self._sessions(curve25519))

    def _remember_peer(self, peer: PartyKeys) -> bool:
        """Trust on first use of a Curve25519 key; raise if it changes owner or Ed25519 key."""
        known = self._state.peers.get(peer.curve25519)
        if known is not None and known != peer:
            raise BindingError(
                f"device key {peer.curve25519} was known as {known.user_id}/{known.device_id} "
                "with another Ed25519 key"
            )
        if known is None:
            self._state.peers[peer.curve25519] = peer
            return True
        return False

    # -- for the case sessions (client.case_sessions.CaseSessionOwner) ----------
    def known_devices(self) -> list[PartyKeys]:
        """This device and every peer device whose keys it has seen."""
        return [self.keys, *self._state.peers.values()]

    def inbound_session_ids(self, case_id: str) -> list[str]:
        """The inbound Megolm sessions stored for the case, oldest first."""
        return list(self._state.inbound_by_case.get(case_id, []))

    def index_inbound_session(self, case_id: str, session_id: str) -> None:
        """Add a stored inbound Megolm session to the case's index (persisted)."""
        ids = self._state.inbound_by_case.setdefault(case_id, [])
        if session_id not in ids:
            ids.append(session_id)
            self._save_state()

    def encrypt_for(
        self, recipients: Sequence[PeerDevice], payload: Payload, *, message_id: str | None = None
    ) -> list[OlmCiphertext]:
        """Encrypt ``payload`` once per recipient device (one Olm ciphertext each).

        Uses the newest session with each device, or starts one from the
        recipient's claimed ``one_time_key``. All recipients share one message id.
        """
        message_id = message_id or str(uuid.uuid4())
        sent_at = _now_ms()
        out: list[OlmCiphertext] = []
        touched: dict[str, OlmSession] = {}
        new_peer = False
        for peer in recipients:
            party = peer.party()
            new_peer |= self._remember_peer(party)
            sessions = self._sessions(peer.curve25519)
            if not sessions:
                if peer.one_time_key is None:
                    raise SessionError(
                        f"no Olm session with {peer.user_id}/{peer.device_id} "
                        "and no claimed one-time key"
                    )
                sessions.insert(
                    0, self._account.create_outbound_session(peer.curve25519, peer.one_time_key)
                )
            plaintext = encode(
                OlmPlaintext(
                    message_id=message_id,
                    sent_at=sent_at,
                    sender=self.keys,
                    recipient=party,
                    payload=payload,
                )
            )
            if len(plaintext) > MAX_PLAINTEXT:
                raise EncodingError("payload too large for an Olm message")
            message_type, body = sessions[0].encrypt(plaintext)
            touched[peer.curve25519] = sessions[0]
            out.append(
                OlmCiphertext(
                    sender_user_id=self.user_id,
                    sender_device_id=self.device_id,
                    sender_curve25519=self.curve25519,
                    recipient_user_id=peer.user_id,
                    recipient_device_id=peer.device_id,
                    message_type=message_type,
                    body=b64encode(body),
                )
            )
        try:
            with self._store.transaction():
                for curve, session in touched.items():
                    self._save_session(curve, session)
                if new_peer:
                    self._save_state()
        except StoreError:
            for curve in touched:  # nothing was handed out: fall back to the stored ratchets
                self._rollback(curve, reload_account=False)
            raise
        return out

    def decrypt(
        self, ciphertext: OlmCiphertext, *, expected_sender: PeerDevice | None = None
    ) -> Received:
        """Decrypt one Olm ciphertext addressed to this device.

        Tries the known sessions with the sender; a pre-key message that matches
        none creates an inbound session (consuming the one-time key). Raises
        :class:`DuplicateMessageError` for a ciphertext or message id already
        processed, :class:`BindingError` when the plaintext names another sender
        or recipient, :class:`SessionError` for an unknown/reused one-time key.
        """
        if (
            ciphertext.recipient_device_id != self.device_id
            or ciphertext.recipient_user_id != self.user_id
        ):
            raise BindingError("ciphertext is addressed to another device")
        curve = ciphertext.sender_curve25519
        ct_id = f"{curve}|{ciphertext.message_type}|{ciphertext.body}"
        if self._store.seen("ct", ct_id):
            raise DuplicateMessageError("this ciphertext was already decrypted")
        body = decode_body(ciphertext.body)
        sessions = self._sessions(curve)
        plaintext: bytes | None = None
        used: OlmSession | None = None
        new_inbound = False
        for session in sessions:
            if ciphertext.message_type == PRE_KEY and not session.matches(body):
                continue
            try:
                plaintext = session.decrypt(ciphertext.message_type, body)
            except DecryptionError:
                continue
            used = session
            break
        if used is None:
            if ciphertext.message_type != PRE_KEY:
                raise DecryptionError("no Olm session with the sender decrypts this message")
            used, plaintext = self._account.create_inbound_session(curve, body)
            new_inbound = True
        assert plaintext is not None
        try:
            inner = decode(plaintext, OlmPlaintext)
            sender = inner.sender
            if (
                sender.curve25519 != curve
                or sender.user_id != ciphertext.sender_user_id
                or sender.device_id != ciphertext.sender_device_id
            ):
                raise BindingError("plaintext names another sender than the envelope")
            if inner.recipient != self.keys:
                raise BindingError("plaintext was encrypted for another recipient")
            if expected_sender is not None and expected_sender.party() != sender:
                raise BindingError("sender keys differ from the key directory's")
            new_peer = self._remember_peer(sender)
        except (BindingError, EncodingError):
            # Bad input changes nothing: drop the advanced in-memory ratchet and
            # reload the last persisted state, so the genuine message still decrypts.
            self._rollback(curve, reload_account=new_inbound)
            raise
        # The session advanced: persist it (and the consumed one-time key, a new
        # peer, the seen tags) in one transaction before handing out the plaintext.
        id_key = f"{sender.user_id}|{sender.device_id}|{inner.message_id}"
        try:
            with self._store.transaction():
                self._save_session(curve, used)
                if new_inbound:
                    self._save_account()
                if new_peer:
                    self._save_state()
                self._store.add_seen("ct", ct_id)
                duplicate = not self._store.add_seen("id", id_key)
        except StoreError:
            self._rollback(curve, reload_account=new_inbound)
            raise
        if duplicate:
            raise DuplicateMessageError(f"message {inner.message_id} was already received")
        return Received(inner.message_id, inner.sent_at, sender, inner.payload)

    def _rollback(self, curve: str, *, reload_account: bool) -> None:
        self._olm.pop(curve, None)
        if reload_account:
            raw = self._store.get("account")
            if raw is None:
                raise CorruptStoreError("account record vanished")
            self._account = OlmAccount.from_pickle(
                raw.decode("ascii", "replace"),
                self._store.keys.pickle_key,
                self.user_id,
                self.device_id,
            )
        state = self._store.get_json("state", _State)
        if state is not None:
            self._state = state


__all__ = ["Device", "PeerDevice", "Received", "StoreError"]
