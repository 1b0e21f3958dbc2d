"""The pre-call test: a pass for the browser page, and the server's aiortc echo peer.

A family member opens the pre-call page from the app before a session. The app asks
for a short-lived *pass* (``POST /rtc/precall/pass``, signed in) and opens
``/precall#pass=…``; the page uses the pass (never its session token) to get ICE
servers and to send its offer. The server answers with an aiortc peer that sends
the caller's own audio and video straight back (forwarded through ``MediaRelay``,
never decoded into a file, recorded or logged) and answers ``ping`` messages on a
data channel so the page can measure the round-trip time.

Limits: at most ``KAARI_PRECALL_MAX_PEERS`` echo peers per instance (each one
decodes and re-encodes the caller's video), one per user (a new offer
replaces the user's previous peer), each closed after
``KAARI_PRECALL_TIMEOUT_SECONDS``, when its connection fails, and at shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from signaling.ice import ice_servers
from signaling.ports import InvalidInput, KaariError, Principal, Settings, Unavailable

log = logging.getLogger("kaari.signaling.precall")

#: How long the echo peer may take to gather its candidates and answer.
ANSWER_TIMEOUT_SECONDS = 15.0
#: Longest data-channel message the echo peer answers.
MAX_PING = 64
#: The TURN user the echo peer itself uses when TURN is configured.
ECHO_TURN_USER = "kaari-precall-echo"

# aiortc and aioice log candidates (IP addresses) and SDP details at INFO and DEBUG:
# none of that belongs in Kaari's logs. This module logs outcomes only.
for _name in ("aiortc", "aioice"):
    logging.getLogger(_name).setLevel(logging.CRITICAL + 1)


class PrecallPassInvalid(KaariError):
    status, code, title = 401, "precall_pass_invalid", "The pre-call pass is not valid"


# --- the pass -------------------------------------------------------------------------

_FORMAT_VERSION = "1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _pass_key(secret_key: str) -> bytes:
    # a key of its own, so a pass can never be confused with another HMAC of secret_key
    return hmac.new(secret_key.encode("utf-8"), b"kaari.precall.pass.v1", hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class PassHolder:
    user_id: UUID
    device_id: UUID


def issue_pass(settings: Settings, principal: Principal, now: float) -> tuple[str, int]:
    """A stateless pass (any instance can check it): ``payload.mac``; returns (pass, expiry)."""
    expires = int(now) + settings.precall_pass_ttl_seconds
    payload = f"{_FORMAT_VERSION}.{expires}.{principal.user_id}.{principal.device_id}".encode()
    mac = hmac.new(_pass_key(settings.secret_key), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}", expires


def check_pass(settings: Settings, token: str, now: float) -> PassHolder:
    """The holder of a valid, unexpired pass; :class:`PrecallPassInvalid` otherwise."""
    refused = PrecallPassInvalid("Open the pre-call test again from the Kaari app")
    payload_b64, sep, mac_b64 = token.partition(".")
    if not sep:
        raise refused
    try:
        payload, mac = _unb64(payload_b64), _unb64(mac_b64)
    except (ValueError, TypeError):
        raise refused from None
    expected = hmac.new(_pass_key(settings.secret_key), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise refused
    try:
        version, expires, user_id, device_id = payload.decode("ascii").split(".")
        holder = PassHolder(UUID(user_id), UUID(device_id))
        expired = int(expires) <= now
    except ValueError:
        raise refused from None
    if version != _FORMAT_VERSION or expired:
        raise refused
    return holder


def pass_expiry(expires: int) -> datetime:
    return datetime.fromtimestamp(expires, UTC)


# --- which host addresses aiortc offers ---------------------------------------------------

_original_host_addresses = aioice.ice.get_host_addresses
_host_address_override: list[str] | None = None


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _host_address_override is None:
        return _original_host_addresses(use_ipv4, use_ipv6)
    return [
        address for address in _host_address_override if (use_ipv6 if ":" in address else use_ipv4)
    ]


# aioice looks the function up in its module at each gathering; with no override set
# (KAARI_PRECALL_HOST_ADDRESSES empty) it behaves exactly as before.
aioice.ice.get_host_addresses = _host_addresses


def restrict_host_addresses(addresses: list[str] | None) -> None:
    """Only these addresses become host candidates of this process's aiortc peers."""
    global _host_address_override
    _host_address_override = list(addresses) if addresses else None


# --- the echo peers -----------------------------------------------------------------------


def rtc_ice_servers(settings: Settings, user: str, now: float) -> list[RTCIceServer]:
    """aiortc's ICE servers for ``user``: an explicit list, never None (aiortc's default
    would be a third party's public STUN server)."""
    return [
        RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
        for s in ice_servers(settings, user, now).ice_servers
    ]


def check_offer_shape(sdp: str) -> None:
    """At most one audio, one video and one data section: the echo costs CPU per track."""
    kinds = [line[2:].split(" ", 1)[0] for line in sdp.splitlines() if line.startswith("m=")]
    if not kinds:
        raise InvalidInput("The offer has no media section", code="invalid_sdp")
    for kind in set(kinds):
        if kind not in ("audio", "video", "application") or kinds.count(kind) > 1:
            raise InvalidInput(
                "The offer may carry one audio, one video and one data section",
                code="invalid_sdp",
            )


@dataclass(eq=False)
class EchoPeer:
    user_id: UUID
    pc: RTCPeerConnection
    relay: MediaRelay = field(default_factory=MediaRelay)
    started: float = field(default_factory=time.monotonic)
    timer: asyncio.Task[None] | None = None
    closed: bool = False


class PrecallEchoes:
    """The running echo peers of this instance."""

    def __init__(self, settings: Settings, now: Callable[[], float]) -> None:
        self.settings = settings
        self._now = now
        self._peers: dict[UUID, EchoPeer] = {}
        self._closing = False
        if settings.precall_host_address_list:
            restrict_host_addresses(settings.precall_host_address_list)

    @property
    def running(self) -> int:
        return len(self._peers)

    async def answer(self, holder: PassHolder, offer_sdp: str) -> str:
        """Start an echo peer for ``holder`` and return its SDP answer."""
        settings = self.settings
        if settings.precall_max_peers == 0 or self._closing:
            raise Unavailable("The pre-call test is switched off", code="precall_disabled")
        check_offer_shape(offer_sdp)
        previous = self._peers.pop(holder.user_id, None)
        if previous is not None:
            await self._close(previous, "replaced")
        if len(self._peers) >= settings.precall_max_peers:
            retry = max(1, round(settings.precall_timeout_seconds))
            raise Unavailable(
                "Other pre-call tests are running; try again in a minute",
                code="precall_busy",
                headers={"Retry-After": str(retry)},
                extra={"retryAfter": retry},
            )
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=rtc_ice_servers(settings, ECHO_TURN_USER, self._now()))
        )
        peer = EchoPeer(holder.user_id, pc)
        self._peers[holder.user_id] = peer  # reserved before the first await below
        self._wire(peer)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:  # aiortc raises ValueError and others on bad SDP
            await self._close(peer, "invalid_sdp")
            log.info("pre-call offer refused", extra={"error_type": type(exc).__name__})
            raise InvalidInput("The offer is not a valid SDP offer", code="invalid_sdp") from None
        try:
            answer = await pc.createAnswer()
            await asyncio.wait_for(pc.setLocalDescription(answer), ANSWER_TIMEOUT_SECONDS)
        except Exception as exc:
            await self._close(peer, "answer_failed")
            log.warning("pre-call answer failed", extra={"error_type": type(exc).__name__})
            raise Unavailable("The echo peer could not answer", code="precall_failed") from None
        peer.timer = asyncio.create_task(self._expire(peer))
        log.info("pre-call echo started", extra={"user_id": str(holder.user_id)})
        description = pc.localDescription
        assert description is not None
        return description.sdp

    def _wire(self, peer: EchoPeer) -> None:
        pc = peer.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            # the caller's own track goes straight back: no recorder, no sink, no copy
            pc.addTrack(peer.relay.subscribe(track))

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            @channel.on("message")
            def on_message(message: Any) -> None:
                if (
                    isinstance(message, str)
                    and message.startswith("ping")
                    and (len(message) <= MAX_PING)
                ):
                    channel.send("pong" + message[4:])

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not peer.closed:
                if self._peers.get(peer.user_id) is peer:
                    del self._peers[peer.user_id]
                await self._close(peer, pc.connectionState)

    async def _expire(self, peer: EchoPeer) -> None:
        await asyncio.sleep(self.settings.precall_timeout_seconds)
        if self._peers.get(peer.user_id) is peer:
            del self._peers[peer.user_id]
        await self._close(peer, "timeout", from_timer=True)

    async def _close(self, peer: EchoPeer, why: str, from_timer: bool = False) -> None:
        if self._peers.get(peer.user_id) is peer:
            del self._peers[peer.user_id]
        if peer.closed:
            return
        peer.closed = True
        if peer.timer is not None and not from_timer:
            peer.timer.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(peer.pc.close(), 5)
        log.info(
            "pre-call echo closed",
            extra={
                "user_id": str(peer.user_id),
                "status": why,
                "duration_ms": round((time.monotonic() - peer.started) * 1000),
            },
        )

    async def close(self) -> None:
        """Close every echo peer (instance shutdown)."""
        self._closing = True
        peers = list(self._peers.values())
        self._peers.clear()
        await asyncio.gather(*(self._close(p, "shutdown") for p in peers))
        if self.settings.precall_host_address_list:
            restrict_host_addresses(None)
