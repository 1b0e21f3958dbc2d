"""Real `kaari serve` processes and reference call clients for the aiortc room tests."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiortc import RTCIceServer
from scenarios.matrix_onboarding import People

from client.api import Api
from client.call import CallClient, Peer
from client.matrix import MatrixClient, MatrixHttp
from client.rtc import ice_servers_from_json
from signaling.precall import restrict_host_addresses

CALL_SECONDS = 30.0

_matrices: dict[str, MatrixClient] = {}  # by session token
_stores = tempfile.TemporaryDirectory(prefix="kaari-call-devices-")


def loopback_only() -> None:
    """Host candidates on 127.0.0.1 only (this process's aiortc peers)."""
    restrict_host_addresses(["127.0.0.1"])


def video_room(people: People, starts_in: timedelta = timedelta(minutes=5), **extra: Any) -> str:
    start = datetime.now(UTC) + starts_in
    body = {"caseIds": [people.case_id], "startsAt": start.isoformat(), "placeKind": "video"}
    created = people.therapist.post("/appointments", {**body, **extra})
    room_id: str = created["appointments"][0]["id"]
    return room_id


def ice_of(api: Api) -> list[RTCIceServer]:
    return ice_servers_from_json(api.get("/rtc/ice-servers"))


def matrix_of(m: Api, url: str | None = None) -> MatrixClient:
    """The person's Matrix device (its own store), cross-signed by its owner; one per
    signed-in device, opened on first use."""
    token = m.token
    assert token is not None, "sign in first"
    known = _matrices.get(token)
    if known is None:
        http = MatrixHttp.connect(url or m.base_url, token)
        store = Path(_stores.name) / f"{len(_matrices)}-{m.device_id}"
        known = MatrixClient.open(http, store, os.urandom(32))
        known.bootstrap_cross_signing()
        known.sync()
        _matrices[token] = known
    return known


def caller(m: Api, url: str | None = None, *, host_only: bool = False, **kwargs: Any) -> CallClient:
    """A call client for the person; ``host_only``: no ICE servers (host candidates)."""
    api = Api(url, token=m.token) if url else m
    return CallClient(api, matrix_of(m, url), [] if host_only else ice_of(api), **kwargs)


@asynccontextmanager
async def clients(*callers: CallClient) -> AsyncIterator[None]:
    try:
        for c in callers:
            await c.connect()
        yield
    finally:
        for c in callers:
            await asyncio.wait_for(c.close(), 10)


async def talk(a: Peer, b: Peer, frames: int = 5) -> None:
    """Both connected; a data-channel message each way; media frames each way."""
    await asyncio.gather(a.connected.wait(), b.connected.wait())
    sender = a if a.channel is not None and a.offerer else b
    other = b if sender is a else a
    while sender.channel is None or sender.channel.readyState != "open":  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    sender.channel.send("hei terapeutti")
    await other.message.wait()
    assert other.messages[0] == "hei terapeutti"
    while other.channel is None or other.channel.readyState != "open":  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    other.channel.send("hei perhe")
    await sender.message.wait()
    assert sender.messages[0] == "hei perhe"
    while a.frames < frames or b.frames < frames:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
