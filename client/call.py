"""The reference call client: an aiortc peer in a room of a video appointment.

It signs in with :class:`client.api.Api`, opens the device's WebSocket (``/ws`` with a
ticket), joins the room (``room_join``), waits in the waiting room until admitted and
then builds one ``RTCPeerConnection`` per admitted peer (a mesh):

* Roles are the server's: of two admitted peers the one with the larger ``order``
  (admitted later) offers; the other answers and never offers (the polite callee). To
  repair a call (after a network change) the callee sends ``restart`` and the offerer
  makes a new offer; aiortc cannot restart ICE in place, so it builds a new peer
  connection (a browser would call ``restartIce()``).
* Every offer and answer is authenticated to the one peer device it is for by the
  Matrix device (:class:`client.matrix.MatrixClient`): before the SDP goes to the relay,
  :meth:`~client.matrix.MatrixClient.send_call_sdp` sends an Olm-encrypted
  ``org.kaari.call.sdp`` to-device event ``{call_id, kind, sdp_sha256, fingerprints}``
  (the call id is the room id) through the server's mailbox. The receiver finds it in
  its sync's to-device results (:meth:`~client.matrix.MatrixClient.authenticate_call_sdp`)
  and checks, BEFORE applying the SDP, that it came from the peer's user and device, that
  this device is cross-signed by its owner, and that it names this call, this kind, the
  SDP's hash and exactly its DTLS fingerprints. A mismatch is refused (``hangup`` with
  reason ``call_auth_invalid`` and the :class:`~crypto.matrix.call.CallAuthError` code)
  and never applied, so a relay that swaps a fingerprint, replays or reflects an SDP
  cannot sit in the middle. The peer's Matrix id is ``@<userId>:<our server>``; a seat of
  another family in a group session carries a pseudonym as ``userId``, so its SDP cannot
  be authenticated and is refused.
* aiortc gathers every candidate before ``setLocalDescription`` returns, so the SDP
  already holds them (no trickle ``candidate`` messages are sent, and received ones
  are not applied: a peer's candidates must be in its SDP).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from websockets.asyncio.client import ClientConnection, connect

from client.api import Api
from client.matrix import MatrixClient, MatrixError
from client.rtc import configuration
from crypto.matrix.errors import MatrixCryptoError

log = logging.getLogger("kaari.client.call")

MAX_FRAME = 1024 * 1024
CALL_AUTH_INVALID = "call_auth_invalid"


class CallError(Exception):
    """The server refused a frame (``code`` from its ``error`` frame)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class Peer:
    """The call with one other device of the room."""

    device_id: str
    user_id: str
    offerer: bool
    pc: RTCPeerConnection
    channel: Any = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    messages: list[str] = field(default_factory=list)
    message: asyncio.Event = field(default_factory=asyncio.Event)
    frames: int = 0
    framed: asyncio.Event = field(default_factory=asyncio.Event)
    refused: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    joined_at: float = field(default_factory=time.monotonic)
    connected_after: float | None = None


Tamper = Callable[[dict[str, Any]], dict[str, Any]]


class CallClient:
    def __init__(
        self,
        api: Api,
        matrix: MatrixClient,
        ice_servers: list[RTCIceServer],
        *,
        relay_only: bool = False,
        video: bool = True,
        tamper: Tamper | None = None,
    ) -> None:
        self.api = api
        #: the device's Matrix client (one call client at a time uses it)
        self.matrix = matrix
        self.ice_servers = ice_servers
        self.relay_only = relay_only
        self.video = video
        #: tests only: rewrite each frame as it arrives (a compromised relay)
        self.tamper = tamper
        self.room_id: str | None = None
        self.state: dict[str, Any] | None = None
        self.peers: dict[str, Peer] = {}
        self.refusals: list[tuple[str, str]] = []
        self.hangups: list[tuple[str, str]] = []
        self.errors: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._state_changed = asyncio.Condition()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._matrix_lock = asyncio.Lock()
        self._expected: dict[str, tuple[int, int]] = {}  # device -> (epoch, next seq)
        self.out_of_order = 0

    @property
    def device_id(self) -> str:
        return self.matrix.device_id

    # the socket

    async def connect(self, seconds: float = 10.0) -> None:
        ticket = await asyncio.to_thread(self.api.ws_ticket)
        self._ws = await connect(self.api.ws_url(ticket), max_size=MAX_FRAME, open_timeout=seconds)
        hello = json.loads(await asyncio.wait_for(self._ws.recv(), seconds))
        if hello.get("type") != "hello":
            raise ConnectionError("the server did not greet with hello")
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def drop(self) -> None:
        """Close the socket only (as a network change would); peers stay."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def close(self) -> None:
        await self.drop()
        for peer in list(self.peers.values()):
            await self._close_peer(peer)
        self.peers.clear()

    async def _send(self, frame: dict[str, Any]) -> None:
        assert self._ws is not None, "connect first"
        await self._ws.send(json.dumps(frame, separators=(",", ":")))

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                frame = json.loads(raw)
                if self.tamper is not None:
                    frame = self.tamper(frame)
                try:
                    await self._handle(frame)
                except Exception as exc:
                    log.warning("call frame not handled", extra={"error": repr(exc)})
        except Exception as exc:  # the socket closed
            log.info("call socket ended", extra={"error": repr(exc)})

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "room_state":
            if frame.get("roomId") == self.room_id:
                async with self._state_changed:
                    self.state = frame
                    self._state_changed.notify_all()
                await self._reconcile(frame)
        elif kind == "signal":
            await self._on_signal(frame)
        elif kind == "error":
            await self.errors.put(frame)
        elif kind == "ping":
            await self._send({"type": "pong"})

    # the room

    def me(self) -> dict[str, Any] | None:
        for p in (self.state or {}).get("participants", []):
            if p["deviceId"] == self.device_id:
                found: dict[str, Any] = p
                return found
        return None

    async def wait_state(
        self, want: Callable[[dict[str, Any]], bool], seconds: float = 10.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(seconds), self._state_changed:
            await self._state_changed.wait_for(lambda: self.state is not None and want(self.state))
            assert self.state is not None
            return self.state

    async def join(self, room_id: str, seconds: float = 10.0) -> dict[str, Any]:
        """Take a seat; the first ``room_state`` that has this device, or CallError."""
        self.room_id = room_id
        await self._send({"type": "room_join", "roomId": room_id})
        waiter = asyncio.ensure_future(self.wait_state(lambda s: self.me() is not None, seconds))
        failed = asyncio.ensure_future(self.errors.get())
        done, _ = await asyncio.wait({waiter, failed}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, failed):
            if task not in done:
                task.cancel()
        if failed in done:
            error = failed.result()
            raise CallError(error["code"], error.get("detail", ""))
        return waiter.result()

    async def wait_admitted(self, seconds: float = 10.0) -> dict[str, Any]:
        return await self.wait_state(
            lambda s: (self.me() or {}).get("status") == "admitted", seconds
        )

    async def admit(self, device_ids: list[str] | None = None, auto: bool | None = None) -> None:
        frame: dict[str, Any] = {"type": "room_admit", "roomId": self.room_id}
        if device_ids is not None:
            frame["deviceIds"] = device_ids
        if auto is not None:
            frame["autoAdmit"] = auto
        await self._send(frame)

    async def leave(self) -> None:
        await self._send({"type": "room_leave", "roomId": self.room_id})

    async def _reconcile(self, state: dict[str, Any]) -> None:
        mine = self.me()
        if mine is None or mine["status"] != "admitted":
            return
        present = {}
        for p in state["participants"]:
            if p["deviceId"] != self.device_id and p["status"] == "admitted":
                present[p["deviceId"]] = p
        for device_id, peer in list(self.peers.items()):
            if device_id not in present:
                await self._close_peer(peer)
                del self.peers[device_id]
        for device_id, p in present.items():
            if not p["connected"] or device_id in self.peers:
                continue
            if mine["order"] > p["order"]:  # the later admitted offers
                await self._offer(device_id, p["userId"])

    # authentication by the Matrix device

    def _matrix_user(self, user_id: str) -> str:
        """The Matrix id of a seat's ``userId`` (a Kaari user id, or a pseudonym)."""
        return f"@{user_id}:{self.matrix.user_id.split(':', 1)[1]}"

    async def _on_matrix(self, call: Callable[[], None]) -> None:
        async with self._matrix_lock:
            await asyncio.to_thread(call)

    # peer connections

    def _new_peer(self, device_id: str, user_id: str, offerer: bool) -> Peer:
        pc = RTCPeerConnection(configuration(self.ice_servers, relay_only=self.relay_only))
        peer = Peer(device_id=device_id, user_id=user_id, offerer=offerer, pc=pc)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected" and not peer.connected.is_set():
                peer.connected_after = time.monotonic() - peer.joined_at
                peer.connected.set()

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            self._attach_channel(peer, channel)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            peer.tasks.append(asyncio.ensure_future(self._count_frames(peer, track)))

        if self.video:
            pc.addTrack(VideoStreamTrack())
        self.peers[device_id] = peer
        return peer

    def _attach_channel(self, peer: Peer, channel: Any) -> None:
        peer.channel = channel

        def on_message(message: Any) -> None:
            peer.messages.append(str(message))
            peer.message.set()

        channel.on("message", on_message)

    async def _count_frames(self, peer: Peer, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                peer.frames += 1
                peer.framed.set()

    async def _close_peer(self, peer: Peer) -> None:
        for task in peer.tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(peer.pc.close(), 5)

    async def _authenticated(self, peer: Peer, sdp: str, kind: str) -> dict[str, Any]:
        """Send the authentication of ``sdp`` to the peer device; the payload to relay."""
        assert self.room_id is not None
        room_id, user = self.room_id, self._matrix_user(peer.user_id)
        await self._on_matrix(
            lambda: self.matrix.send_call_sdp(
                user, peer.device_id, call_id=room_id, kind=kind, sdp=sdp
            )
        )
        return {"type": kind, "sdp": sdp}

    async def _signal(self, to: str, kind: str, payload: dict[str, Any]) -> None:
        await self._send(
            {"type": "signal", "roomId": self.room_id, "to": to, "kind": kind, "payload": payload}
        )

    async def _offer(self, device_id: str, user_id: str) -> None:
        peer = self._new_peer(device_id, user_id, offerer=True)
        self._attach_channel(peer, peer.pc.createDataChannel("kaari"))
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        sdp = peer.pc.localDescription.sdp
        await self._signal(device_id, "offer", await self._authenticated(peer, sdp, "offer"))

    async def _verified_sdp(self, frame: dict[str, Any]) -> str | None:
        """The SDP of an authenticated offer/answer, or None (refused: a hang-up is sent)."""
        sender, payload, kind = frame["from"], frame["payload"], frame["kind"]
        assert self.room_id is not None
        room_id = self.room_id
        try:
            sdp = payload["sdp"]
            if not isinstance(sdp, str):
                raise TypeError("the SDP is not a string")
            user = self._matrix_user(str(frame["fromUser"]))
            await self._on_matrix(
                lambda: self.matrix.authenticate_call_sdp(
                    user, sender, call_id=room_id, kind=kind, sdp=sdp
                )
            )
        except (MatrixCryptoError, MatrixError, KeyError, TypeError) as exc:
            code = getattr(exc, "code", type(exc).__name__)
            self.refusals.append((sender, f"{CALL_AUTH_INVALID}: {code}: {exc}"))
            log.warning("refused an SDP that does not authenticate", extra={"peer": sender})
            await self._signal(sender, "hangup", {"reason": CALL_AUTH_INVALID, "code": code})
            return None
        return sdp

    def _in_order(self, frame: dict[str, Any]) -> None:
        sender, epoch, seq = frame["from"], frame["epoch"], frame["seq"]
        last_epoch, want = self._expected.get(sender, (epoch, 1))
        if epoch != last_epoch:
            want = 1
        if seq != want:
            self.out_of_order += 1
        self._expected[sender] = (epoch, seq + 1)

    async def _on_signal(self, frame: dict[str, Any]) -> None:
        if frame.get("roomId") != self.room_id:
            return
        self._in_order(frame)
        sender, kind = frame["from"], frame["kind"]
        peer = self.peers.get(sender)
        if kind == "offer":
            sdp = await self._verified_sdp(frame)
            if sdp is None:
                if peer is not None:
                    peer.refused = CALL_AUTH_INVALID
                return
            if peer is not None:  # a new offer: a restart, built afresh (aiortc)
                await self._close_peer(peer)
            peer = self._new_peer(sender, frame["fromUser"], offerer=False)
            await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await peer.pc.setLocalDescription(await peer.pc.createAnswer())
            answer = peer.pc.localDescription.sdp
            await self._signal(sender, "answer", await self._authenticated(peer, answer, "answer"))
        elif kind == "answer":
            if peer is None or not peer.offerer:
                return
            sdp = await self._verified_sdp(frame)
            if sdp is None:
                peer.refused = CALL_AUTH_INVALID
                return
            await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        elif kind == "restart":
            if peer is not None and peer.offerer:
                await self._close_peer(peer)
                await self._offer(sender, frame["fromUser"])
        elif kind == "hangup":
            self.hangups.append((sender, str(frame["payload"].get("reason", ""))))
            if peer is not None:
                await self._close_peer(peer)
                del self.peers[sender]

    async def restart(self, device_id: str) -> None:
        """Repair the call with one peer: the offerer re-offers, the callee asks it to."""
        peer = self.peers.get(device_id)
        if peer is None:
            return
        if peer.offerer:
            await self._close_peer(peer)
            await self._offer(device_id, peer.user_id)
        else:
            await self._signal(device_id, "restart", {})

    async def wait_peer(self, device_id: str, seconds: float = 15.0) -> Peer:
        async with asyncio.timeout(seconds):
            while device_id not in self.peers:  # noqa: ASYNC110 (tests and bench only)
                await asyncio.sleep(0.02)
            return self.peers[device_id]
