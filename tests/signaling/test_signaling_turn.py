"""A real coturn on loopback: credentials from /rtc/ice-servers carry a relay-only call,
and expired or wrong credentials are detected and reported instead of hanging."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCIceServer, RTCPeerConnection
from signaling_support import (
    OLD_TURN_SECRET,
    TURN_SECRET,
    Coturn,
    app_settings,
    signed_in,
)
from support import run

from client.rtc import (
    TURN_UNREACHABLE_OR_REJECTED,
    TurnUnavailable,
    candidate_types,
    check_relay,
    configuration,
    ice_servers_from_json,
    require_relay,
)
from signaling.ice import turn_credential

CALL_TIMEOUT = 30.0


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    # both secrets, as during a rotation: coturn accepts credentials signed by either
    server = Coturn(tmp_path, [TURN_SECRET, OLD_TURN_SECRET])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def ice_from_kaari(sqlite_template: Path, tmp_path: Path, coturn: Coturn) -> dict[str, Any]:
    settings = app_settings(
        sqlite_template,
        tmp_path,
        turn_host="127.0.0.1",
        turn_port=coturn.port,
        turn_tls_port=0,
        turn_secrets=f"{TURN_SECRET},{OLD_TURN_SECRET}",
    )
    with signed_in(settings) as (client, session):
        r = client.get("/rtc/ice-servers", headers=session.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
    assert body["relay"] is True
    return body


def only_transport(servers: list[RTCIceServer], transport: str) -> list[RTCIceServer]:
    """The TURN URL of one transport (aiortc uses the first TURN URL it finds)."""
    out = []
    for server in servers:
        urls = server.urls if isinstance(server.urls, list) else [server.urls]
        keep = [u for u in urls if u.startswith("turn") and u.endswith(f"transport={transport}")]
        if keep:
            out.append(RTCIceServer(keep, server.username, server.credential))
    return out


def selected_local_type(pc: RTCPeerConnection) -> str | None:
    """The local candidate type of the nominated pair (aiortc keeps it private)."""
    sctp = pc.sctp
    if sctp is None:
        return None
    connection = sctp.transport.transport._connection
    pairs = list(connection._nominated.values())
    return pairs[0].local_candidate.type if pairs else None


async def relay_only_call(servers: list[RTCIceServer]) -> dict[str, Any]:
    caller = RTCPeerConnection(configuration(servers, relay_only=True))
    callee = RTCPeerConnection(configuration(servers, relay_only=True))
    got: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    try:
        async with asyncio.timeout(CALL_TIMEOUT):
            channel = caller.createDataChannel("chat")

            @callee.on("datachannel")
            def on_channel(remote: Any) -> None:
                @remote.on("message")
                def on_message(message: Any) -> None:
                    if not got.done():
                        got.set_result(message)
                    remote.send("pong:" + str(message))

            @channel.on("message")
            def on_reply(message: Any) -> None:
                if not reply.done():
                    reply.set_result(message)

            opened = asyncio.Event()
            channel.on("open", opened.set)
            await caller.setLocalDescription(await caller.createOffer())
            offer = caller.localDescription
            await callee.setRemoteDescription(offer)
            await callee.setLocalDescription(await callee.createAnswer())
            answer = callee.localDescription
            await caller.setRemoteDescription(answer)
            await opened.wait()
            channel.send("hei terapeutti")
            return {
                "received": await got,
                "reply": await reply,
                "offer_types": candidate_types(offer.sdp),
                "answer_types": candidate_types(answer.sdp),
                "selected": (selected_local_type(caller), selected_local_type(callee)),
                "states": (caller.connectionState, callee.connectionState),
            }
    finally:
        await asyncio.wait_for(caller.close(), 5)
        await asyncio.wait_for(callee.close(), 5)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_relay_only_call_through_coturn_with_kaari_credentials(
    sqlite_template: Path, tmp_path: Path, coturn: Coturn, transport: str
) -> None:
    body = ice_from_kaari(sqlite_template, tmp_path, coturn)
    servers = only_transport(ice_servers_from_json(body), transport)
    started = time.monotonic()
    result = run(relay_only_call(servers))
    elapsed = time.monotonic() - started
    assert result["received"] == "hei terapeutti"
    assert result["reply"] == "pong:hei terapeutti"
    assert result["offer_types"]
    assert set(result["offer_types"]) == {"relay"}
    assert result["answer_types"]
    assert set(result["answer_types"]) == {"relay"}
    assert result["selected"] == ("relay", "relay")
    assert result["states"] == ("connected", "connected")
    print(f"relay-only call over TURN/{transport}: connected in {elapsed:.2f} s")


def test_check_relay_accepts_good_and_rotated_credentials(
    sqlite_template: Path, tmp_path: Path, coturn: Coturn
) -> None:
    body = ice_from_kaari(sqlite_template, tmp_path, coturn)
    check = run(require_relay(ice_servers_from_json(body), 10))
    assert check.ok
    assert check.relay_candidates >= 1
    # a credential signed with the older secret still works while coturn lists it
    username, password = turn_credential(OLD_TURN_SECRET, "u-old", int(time.time()) + 300)
    url = f"turn:127.0.0.1:{coturn.port}?transport=udp"
    assert run(check_relay([RTCIceServer(url, username, password)], 10)).ok


@pytest.mark.parametrize("case", ["expired", "wrong_secret", "wrong_password", "unreachable"])
def test_expired_or_wrong_credentials_are_reported_not_a_hang(coturn: Coturn, case: str) -> None:
    port = coturn.port
    if case == "expired":
        username, password = turn_credential(TURN_SECRET, "u1", int(time.time()) - 5)
    elif case == "wrong_secret":
        username, password = turn_credential("retired-secret-" + "x" * 30, "u1", 2**31)
    elif case == "wrong_password":
        username, password = f"{2**31}:u1", "bm90IHRoZSBwYXNzd29yZA=="
    else:
        username, password = turn_credential(TURN_SECRET, "u1", 2**31)
        coturn.stop()  # nothing listens on the port any more
    servers = [RTCIceServer(f"turn:127.0.0.1:{port}?transport=udp", username, password)]
    started = time.monotonic()
    with pytest.raises(TurnUnavailable) as caught:
        run(require_relay(servers, 4))
    elapsed = time.monotonic() - started
    assert caught.value.code == TURN_UNREACHABLE_OR_REJECTED
    assert caught.value.check.relay_candidates == 0
    assert elapsed < 10, elapsed
    print(f"{case}: reported {caught.value.code} after {elapsed:.2f} s")


def test_no_turn_server_is_its_own_answer() -> None:
    check = run(check_relay([RTCIceServer("stun:127.0.0.1:9")], 1))
    assert check.code == "no_turn_server"
