"""The deployment's topology as processes (DESIGN §11): Debian's nginx with
deploy/nginx/kaari-locations.conf on loopback in front of two `kaari serve` on one
PostgreSQL, one Redis and one blob directory, with coturn. A Matrix device syncing
through the proxy keeps receiving, nothing lost and nothing twice, after the instance
that held its WebSocket is killed with SIGKILL; its socket reconnects to the survivor."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nginx_support import Nginx
from scenarios.matrix_onboarding import Devices, LiveEvents, onboard, room, sync_until
from servers import Coturn, KaariServer, fresh_postgres_database
from support import REDIS_URL, reachable, service_missing

from client.api import Api
from client.matrix import MatrixClient, MatrixError
from client.matrix.files import fetch_file, pointer_of, send_file
from client.rtc import check_relay, ice_servers_from_json

pytestmark = pytest.mark.slow

TURN_SECRET = "turn-deploy-secret-0123456789abcdef0123456789"
WS_GAUGE = re.compile(r"^kaari_websocket_connections (\S+)$", re.MULTILINE)


def websockets_on(server: KaariServer) -> int:
    """Open device WebSockets on one instance, from its own /metrics."""
    r = httpx.get(server.url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    match = WS_GAUGE.search(r.text)
    assert match is not None, r.text
    return int(float(match.group(1)))


def send_retrying(sender: MatrixClient, room_id: str, text: str, txn: str) -> str:
    """What a device does when the proxy answers 502 for an instance that died under a
    request: send the same encrypted event again with the same transaction id (the
    server keeps one)."""
    _, epoch = sender.prepare_room(room_id)
    content = sender.device.encrypt_room_event(
        room_id, "m.room.message", {"msgtype": "m.text", "body": text}
    )
    sender.store.save_device(sender.device)
    for _ in range(5):
        try:
            return sender.http.send_room_event(room_id, txn, content, epoch)
        except MatrixError as exc:
            if exc.status not in (502, 503, 504):
                raise
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{text!r} could not be sent through the proxy")


def texts_of(got: list[str]) -> list[str]:
    return [b for b in got if b != "file"]


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[tuple[Nginx, KaariServer, KaariServer, Coturn]]:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)
    coturn = Coturn(tmp_path, [TURN_SECRET])  # a skip (or a failure under CI) if missing
    proxy_prefix = tmp_path / "nginx"
    with fresh_postgres_database() as database:
        shared = {
            "KAARI_DATABASE_URL": database,
            "KAARI_REDIS_URL": REDIS_URL,
            "KAARI_REDIS_PREFIX": f"kaari-deploy-{secrets.token_hex(4)}:",
            "KAARI_BLOB_DIR": str(tmp_path / "blobs"),
            "KAARI_TURN_HOST": "127.0.0.1",
            "KAARI_TURN_PORT": str(coturn.port),
            "KAARI_TURN_TLS_PORT": "0",
            "KAARI_TURN_SECRETS": TURN_SECRET,
        }
        a = KaariServer({**shared, "KAARI_DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log")
        b = KaariServer({**shared, "KAARI_DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log")
        proxy = Nginx(proxy_prefix, [a.port, b.port])
        try:
            coturn.start()
            a.start()  # one after the other: the first applies the migrations
            b.start()
            proxy.start()
            yield proxy, a, b, coturn
        finally:
            proxy.stop()
            a.stop()
            b.stop()
            coturn.stop()


def test_the_proxy_config_is_valid_for_nginx(tmp_path: Path) -> None:
    proxy = Nginx(tmp_path / "nginx", [8001, 8002])
    result = proxy.test_config()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_a_device_behind_the_proxy_survives_a_kill_of_its_instance(
    tmp_path: Path, topology: tuple[Nginx, KaariServer, KaariServer, Coturn]
) -> None:
    proxy, a, b, _ = topology
    assert httpx.get(proxy.url + "/ready", timeout=10).json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "bus": "ok",
        "rateLimits": "ok",
    }
    assert httpx.get(proxy.url + "/metrics", timeout=10).status_code == 404  # never public
    people = onboard(a, url=proxy.url)
    devices = Devices(people, tmp_path / "mx", proxy.url)
    sender, receiver = devices.open("therapist"), devices.open("mikko")
    anna = devices.open("anna")
    for client in (sender, receiver, anna):
        client.sync()
    anna.close()  # keys published, then offline until the end
    family = room(people.family_thread)

    # coturn relays with the credentials an instance minted (fetched through the proxy)
    ice = ice_servers_from_json(people.guardian2.get("/rtc/ice-servers"))
    relay = asyncio.run(check_relay(ice))
    assert relay.code == "ok", relay

    live = LiveEvents(people.guardian2)  # the receiver's WebSocket (live events)
    live.connect()
    on_a, on_b = websockets_on(a), websockets_on(b)
    assert sorted((on_a, on_b)) == [0, 1], (on_a, on_b)
    holder, survivor = (a, b) if on_a == 1 else (b, a)

    sent = [f"viesti {n} välityspalvelimen takaa" for n in range(20)]
    for n, text in enumerate(sent[:10]):
        send_retrying(sender, family, text, f"deploy-{n}")
    assert sync_until(receiver, family, 10) == sent[:10]
    api = Api(proxy.url, token=devices.tokens["therapist"])
    send_file(sender, api, family, [b"kuva" * 5000], "image/png", "kuva.png")
    assert sync_until(receiver, family, 11)[-1] == "file"

    assert holder.proc is not None
    holder.kill9()  # SIGKILL, by pid: no goodbye to the socket, no shutdown hooks

    for n, text in enumerate(sent[10:], start=10):
        send_retrying(sender, family, text, f"deploy-{n}")
    got = sync_until(receiver, family, 21, 30)
    assert receiver.sync(timeout_ms=1000).messages == []  # and nothing more
    assert texts_of(got) == sent  # every one, in order, once
    assert receiver.undecryptable() == []
    live.connect()  # a new socket: it lands on the survivor
    until_one = time.monotonic() + 10
    while websockets_on(survivor) != 1 and time.monotonic() < until_one:
        time.sleep(0.2)
    assert websockets_on(survivor) == 1
    live.close()
    # the attachment uploaded before the kill downloads through the survivor
    (file_message,) = [m for m in receiver.messages(family) if m["content"]["body"] == "kuva.png"]
    mikko_api = Api(proxy.url, token=devices.tokens["mikko"])
    assert b"".join(fetch_file(mikko_api, pointer_of(file_message["content"]))) == b"kuva" * 5000
    # the guardian who was offline reads all of it through the proxy
    offline = devices.open("anna")
    offline.sync()
    assert texts_of(sync_until(offline, family, 21)) == sent
    for client in (sender, receiver, offline):
        client.close()
    # both instances served requests through the proxy
    upstreams = set(re.findall(r"127\.0\.0\.1:(\d+)$", proxy.access_log(), re.MULTILINE))
    assert {str(a.port), str(b.port)} <= upstreams
