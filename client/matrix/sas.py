"""SAS emoji verification for remote cases, on a :class:`MatrixClient` (issue 13).

:class:`SasVerifier` runs :class:`crypto.matrix.sas.SasFlow` over plain
``m.key.verification.*`` to-device events (as matrix-sdk-crypto sends them): feed it every
sync's to-device results (or let :meth:`SasVerifier.sync` do it), and it answers each step
of the protocol itself; only what needs a person waits for a call: :meth:`accept` an
incoming request, compare :meth:`emoji` (or :meth:`decimals`) on both screens, then
:meth:`confirm` or :meth:`cancel` (``m.mismatched_sas``). When both MACs are checked it
sends ``done`` and turns the result into trust on the server:

- another user: their MACed master key signed with our user-signing key (our own
  cross-signing keys are created first if the user has none), as the QR does;
- our own other device: signed with our self-signing key when we hold it, or, on a device
  without the keys, our user's master key as that device proved it (``trust_own_master_key``).

For the CLI::

    sas = SasVerifier(client)
    txn = sas.request(user_id, device_id)  # or: sas.sync(); txn = sas.incoming[0]; sas.accept(txn)
    while sas.state(txn) not in ("shown", "cancelled"):
        sas.sync(timeout_ms=30000)
    print(sas.emoji(txn)); sas.confirm(txn)  # or sas.cancel(txn, "m.mismatched_sas")
    while sas.state(txn) not in ("done", "cancelled"):
        sas.sync(timeout_ms=30000)
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from client.matrix.client import MatrixClient, SyncResult
from client.matrix.verify import ensure_cross_signing
from crypto.matrix.device import ToDeviceResult
from crypto.matrix.sas import (
    ACCEPT,
    CANCEL,
    DONE,
    KEY,
    MAC,
    PREFIX,
    READY,
    REQUEST,
    START,
    SasError,
    SasFlow,
    SasParty,
    SasResult,
)


class SasVerifier:
    def __init__(self, client: MatrixClient) -> None:
        self.client = client
        self.flows: dict[str, SasFlow] = {}
        #: Transaction ids of requests from others, waiting for :meth:`accept`.
        self.incoming: list[str] = []
        #: Why a flow was cancelled (the spec's code), by transaction id.
        self.cancelled: dict[str, str] = {}
        self._done_sent: set[str] = set()
        self._their_done: set[str] = set()

    @property
    def _me(self) -> SasParty:
        return SasParty(self.client.user_id, self.client.device_id)

    # -- what a person does ----------------------------------------------------------------

    def request(self, user_id: str, device_id: str) -> str:
        """Ask one device of ``user_id`` (ours or another user's) to verify; the flow id."""
        flow = SasFlow.request(self._me, SasParty(user_id, device_id), secrets.token_hex(16))
        self._own_keys(flow)
        self.flows[flow.transaction_id] = flow
        self._send(flow, REQUEST, flow.request_content())
        return flow.transaction_id

    def accept(self, txn: str) -> None:
        flow = self.flows[txn]
        self._own_keys(flow)
        self.incoming.remove(txn)
        self._send(flow, READY, flow.ready())

    def emoji(self, txn: str) -> list[tuple[str, str]]:
        return self.flows[txn].emoji()

    def decimals(self, txn: str) -> tuple[int, int, int]:
        return self.flows[txn].decimals()

    def confirm(self, txn: str) -> None:
        """The person says both screens show the same emoji."""
        flow = self.flows[txn]
        self._own_keys(flow)
        own = self.client.device.own_identity()
        mac = flow.confirm(
            self.client.device.account.ed25519, own.master.public_key if own else None
        )
        self._send(flow, MAC, mac)
        self._maybe_done(flow)

    def cancel(self, txn: str, code: str = "m.user", reason: str = "cancelled") -> None:
        flow = self.flows[txn]
        self.cancelled[txn] = code
        if txn in self.incoming:
            self.incoming.remove(txn)
        self._send(flow, CANCEL, flow.cancel(code, reason))

    def state(self, txn: str) -> str:
        """``requested``, ``ready``, ``started``, ``accepted``, ``keys``, ``shown``, ``done``
        (both sides finished and the trust is uploaded) or ``cancelled``."""
        if txn in self.cancelled:
            return "cancelled"
        if txn in self._done_sent and txn in self._their_done:
            return "done"
        return self.flows[txn].state

    def result(self, txn: str) -> SasResult | None:
        return self.flows[txn].result

    # -- the protocol ----------------------------------------------------------------------

    def sync(self, timeout_ms: int = 0) -> SyncResult:
        result = self.client.sync(timeout_ms)
        self.handle(result.to_device)
        return result

    def handle(self, results: Iterable[ToDeviceResult]) -> None:
        """Answer every verification event among one sync's to-device results."""
        for r in results:
            if r.kind in ("plain", "decrypted") and r.type.startswith(PREFIX):
                self._event(r.type, r.sender, r.content)

    def _event(self, event_type: str, sender: str, content: Mapping[str, Any]) -> None:
        txn = content.get("transaction_id")
        if event_type == REQUEST:
            try:
                asked = SasFlow.from_request(self._me, sender, content)
            except SasError:
                return  # not one we could take part in; nothing to answer to
            if asked.transaction_id not in self.flows:
                self.flows[asked.transaction_id] = asked
                self.incoming.append(asked.transaction_id)
            return
        flow = self.flows.get(txn) if isinstance(txn, str) else None
        if flow is None or sender != flow.them.user_id or txn in self.cancelled:
            return  # someone else's flow, or one we no longer follow
        try:
            self._step(flow, event_type, content)
        except SasError as exc:
            self.cancel(flow.transaction_id, exc.code or "m.unexpected_message", str(exc))

    def _step(self, flow: SasFlow, event_type: str, content: Mapping[str, Any]) -> None:
        if event_type == CANCEL:
            self.cancelled[flow.transaction_id] = str(content.get("code", "m.user"))
            if flow.transaction_id in self.incoming:
                self.incoming.remove(flow.transaction_id)
        elif event_type == READY:
            self._send(flow, START, flow.on_ready(content))
        elif event_type == START:
            self._send(flow, ACCEPT, flow.on_start(content))
        elif event_type == ACCEPT:
            self._send(flow, KEY, flow.on_accept(content))
        elif event_type == KEY:
            answer = flow.on_key(content)
            if answer is not None:
                self._send(flow, KEY, answer)
        elif event_type == MAC:
            self._their_mac(flow, content)
        elif event_type == DONE:
            self._their_done.add(flow.transaction_id)

    def _own_keys(self, flow: SasFlow) -> None:
        """With another user: our MAC must carry our master key so they can verify us back,
        and their device must know it before it arrives. So our cross-signing keys are
        created when the flow begins if the user has none (VerificationFailed
        ``cross_signing_elsewhere`` when another of our devices holds them)."""
        if flow.them.user_id == self.client.user_id:
            return
        self.client.device.track_users([self.client.user_id])
        self.client.query_keys()
        ensure_cross_signing(self.client)

    def _their_mac(self, flow: SasFlow, content: Mapping[str, Any]) -> None:
        them = flow.them
        device = self.client.device
        device.track_users([them.user_id])
        self.client.query_keys()
        keys = device.directory.device(them.user_id, them.device_id)
        if keys is None:
            raise SasError("the server does not list their device", "m.key_mismatch")
        identity = device.directory.identities.get(them.user_id)
        if them.user_id == self.client.user_id and device.cross_signing is not None:
            identity = device.own_identity()  # ours: the keys we hold, not the server's word
        flow.on_mac(content, keys, identity)
        self._maybe_done(flow)

    def _maybe_done(self, flow: SasFlow) -> None:
        if flow.result is None or not flow.confirmed or flow.transaction_id in self._done_sent:
            return
        # Before done: a failure (VerificationFailed from the server's answers) propagates
        # to the caller of sync/confirm and leaves the flow open, not falsely done.
        self._trust(flow.them, flow.result)
        self._send(flow, DONE, flow.done())
        self._done_sent.add(flow.transaction_id)

    def _trust(self, them: SasParty, result: SasResult) -> None:
        client, device = self.client, self.client.device
        if them.user_id == client.user_id:
            if device.cross_signing is not None:
                client.verify_own_device(them.device_id)
            elif result.master_key is not None:
                client.trust_own_master_key(result.master_key)
            return
        if result.master_key is None:
            return  # a user without cross-signing: nothing to sign on the server
        device.track_users([client.user_id])
        client.query_keys()
        ensure_cross_signing(client)
        client.http.signatures_upload(device.verify_user_from_qr(them.user_id, result.master_key))
        device.directory.mark_changed([them.user_id])
        client.query_keys()

    def _send(self, flow: SasFlow, event_type: str, content: Mapping[str, Any]) -> None:
        them = flow.them
        body = {"messages": {them.user_id: {them.device_id: dict(content)}}}
        self.client.http.send_to_device(event_type, secrets.token_urlsafe(12), body)
