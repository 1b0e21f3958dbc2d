"""Wire shapes of the signalling HTTP API (msgspec, camelCase, bounded)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

#: A browser's offer with audio, video and a data channel is 3-8 KB; allow room for
#: many candidates, refuse anything absurd before aiortc parses it.
MAX_SDP = 32_768
MAX_PASS = 512


class IceServer(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """One entry of WebRTC's ``RTCConfiguration.iceServers`` (``RTCIceServer``)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServersOut(msgspec.Struct, rename="camel", kw_only=True):
    """``iceServers`` goes as it is into ``new RTCPeerConnection({iceServers})``.

    ``relay`` says whether a TURN relay is among them: without one a call between
    two strict NATs (many mobile networks) cannot connect. ``expiresAt`` and
    ``ttlSeconds`` belong to the TURN credential (null without TURN): fetch new ones
    before each call and before an ICE restart.
    """

    ice_servers: list[IceServer]
    relay: bool
    expires_at: datetime | None
    ttl_seconds: int | None


class PrecallPassOut(msgspec.Struct, rename="camel", kw_only=True):
    """A short-lived pass that lets a browser run the pre-call test for this user.

    Open ``url`` (the pass is in the fragment, which browsers never send to a server).
    """

    precall_pass: str = msgspec.field(name="pass")
    expires_at: datetime
    url: str


class PrecallStart(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    precall_pass: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASS)] = msgspec.field(
        name="pass"
    )


class PrecallOffer(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    precall_pass: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASS)] = msgspec.field(
        name="pass"
    )
    type: Literal["offer"]
    sdp: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SDP)]


class PrecallAnswer(msgspec.Struct, rename="camel", kw_only=True):
    type: Literal["answer"]
    sdp: str
    timeout_seconds: float
