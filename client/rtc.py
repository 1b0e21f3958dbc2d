"""WebRTC helpers of the reference client: Kaari's ICE servers in aiortc, and a TURN check.

aiortc gathers no relay candidate, without raising, when the TURN server is
unreachable or refuses the credential (expired, signed with a retired secret); a
call with relay-only policy would then wait in vain. :func:`check_relay` gathers
with the relay-only policy, bounded in time, and says which case it is, so the app
can tell the user (and fetch fresh credentials) instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy

RelayCode = Literal["ok", "no_turn_server", "turn_unreachable_or_rejected"]
TURN_UNREACHABLE_OR_REJECTED: RelayCode = "turn_unreachable_or_rejected"


class RelayCheck(msgspec.Struct, frozen=True, kw_only=True):
    """What a relay check found: ``code`` is ``ok`` when at least one relay candidate came."""

    code: RelayCode
    relay_candidates: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.code == "ok"


class TurnUnavailable(Exception):
    """No relay candidate: the TURN server is unreachable or refused the credential."""

    def __init__(self, check: RelayCheck) -> None:
        super().__init__(f"{check.code} after {check.seconds:.1f} s")
        self.code = check.code
        self.check = check


def ice_servers_from_json(body: Mapping[str, Any]) -> list[RTCIceServer]:
    """``GET /rtc/ice-servers``'s ``iceServers`` as aiortc objects."""
    servers: list[RTCIceServer] = []
    for entry in body.get("iceServers", []):
        urls = entry["urls"]
        servers.append(
            RTCIceServer(
                urls=list(urls) if isinstance(urls, list) else [urls],
                username=entry.get("username"),
                credential=entry.get("credential"),
            )
        )
    return servers


def configuration(servers: Sequence[RTCIceServer], *, relay_only: bool = False) -> RTCConfiguration:
    """An aiortc configuration with exactly these servers.

    Always an explicit list: given ``None``, aiortc would fall back to a third party's
    public STUN server, which a health app must not contact behind the user's back.
    """
    return RTCConfiguration(
        iceServers=list(servers),
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL,
    )


def candidate_types(sdp: str) -> list[str]:
    """The ``typ`` of every ``a=candidate`` line of an SDP, in order."""
    types: list[str] = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            if "typ" in fields[:-1]:
                types.append(fields[fields.index("typ") + 1])
    return types


def _has_turn(servers: Sequence[RTCIceServer]) -> bool:
    for server in servers:
        urls = server.urls if isinstance(server.urls, list) else [server.urls]
        if any(url.startswith(("turn:", "turns:")) for url in urls):
            return True
    return False


async def check_relay(servers: Sequence[RTCIceServer], seconds: float = 10.0) -> RelayCheck:
    """Gather relay candidates only, for at most ``seconds``, and report."""
    started = time.monotonic()
    if not _has_turn(servers):
        return RelayCheck(code="no_turn_server", relay_candidates=0, seconds=0.0)
    pc = RTCPeerConnection(configuration(servers, relay_only=True))
    relays = 0
    try:
        pc.createDataChannel("relay-check")
        offer = await pc.createOffer()
        try:
            await asyncio.wait_for(pc.setLocalDescription(offer), seconds)
        except TimeoutError:
            pass
        else:
            description = pc.localDescription
            if description is not None:
                relays = candidate_types(description.sdp).count("relay")
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pc.close(), 5)
    return RelayCheck(
        code="ok" if relays else TURN_UNREACHABLE_OR_REJECTED,
        relay_candidates=relays,
        seconds=round(time.monotonic() - started, 3),
    )


async def require_relay(servers: Sequence[RTCIceServer], seconds: float = 10.0) -> RelayCheck:
    """:func:`check_relay`, raising :class:`TurnUnavailable` unless a relay candidate came."""
    check = await check_relay(servers, seconds)
    if not check.ok:
        raise TurnUnavailable(check)
    return check
