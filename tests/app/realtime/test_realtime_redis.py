"""Two app instances on one real Redis: a Notifier call on one reaches a socket on the
other, and the bus survives its pub/sub connection being killed."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from conftest import World, build_world
from litestar.testing import TestClient
from servers import SERVER_SECRET, KaariServer, fresh_postgres_database
from support import REDIS_URL, Session, reachable, service_missing
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from ws_support import close, closed_with, connect, receive_until

from app.config import Settings
from app.core.events import DEVICE_LIST_CHANGED
from app.main import create_app
from app.realtime.bus import device_channel

pytestmark = pytest.mark.redis


def need_redis() -> None:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    need_redis()
    return Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        redis_url=REDIS_URL,
        redis_prefix=f"kaari-test-{secrets.token_hex(4)}:",
        ws_heartbeat_seconds=0.5,
    )


@pytest.fixture
def sync_redis() -> Iterator[redis.Redis]:
    need_redis()
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()


def wait_subscribed(r: redis.Redis, channel: str, timeout: float = 10) -> None:
    """Until some instance listens on ``channel`` (subscribing is asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = dict(r.pubsub_numsub(channel))  # type: ignore[no-untyped-call]
        if counts.get(channel.encode(), 0) > 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"nobody subscribed to {channel} in time")


def pubsub_clients_of(r: redis.Redis, pids: list[int]) -> list[int]:
    """Redis client ids of the pub/sub connections these processes opened (found by
    their sockets in /proc), so that a test cuts its own connections and never those
    of another test, another xdist worker or another run on the same Redis."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return [
        int(c["id"])
        for c in r.client_list(_type="pubsub")
        if int(c["addr"].rsplit(":", 1)[1]) in ports
    ]


def is_event(frame: dict[str, Any]) -> bool:
    return frame["type"] == "event"


def test_a_notifier_on_one_instance_reaches_a_socket_on_another(
    redis_settings: Settings, sync_redis: redis.Redis
) -> None:
    with (
        TestClient(create_app(redis_settings)) as a,
        TestClient(create_app(redis_settings)) as b,
    ):
        world = build_world(a, redis_settings)
        ws = connect(b, world.guardian)  # the ticket came from b; a would do as well
        foreign = connect(a, world.therapist)
        wait_subscribed(
            sync_redis, device_channel(redis_settings.redis_prefix, world.guardian.device_id)
        )
        notifier = a.app.state.runtime.notifier
        a.blocking_portal.call(
            notifier.send_event,
            [world.guardian.device_id],
            DEVICE_LIST_CHANGED,
            {"userId": world.guardian.user_id},
        )
        frame = receive_until(ws, is_event)
        assert frame["ids"] == {"userId": str(world.guardian.user_id)}
        a.blocking_portal.call(notifier.wake, world.guardian.device_id, 5)
        assert receive_until(ws, lambda f: f["type"] == "wake") == {"type": "wake", "upToSeq": 5}
        a.blocking_portal.call(notifier.close_devices, [world.guardian.device_id])
        assert closed_with(ws) == (4403, "revoked")
        # the other device heard none of it
        foreign.send_json({"type": "ping"})
        assert receive_until(foreign, lambda f: f["type"] != "ping") == {"type": "pong"}
        close(ws)
        close(foreign)


# against a real `kaari serve` process


def ws_receive_until(ws: ClientConnection, want: Any, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no matching frame in time"
        frame: dict[str, Any] = json.loads(ws.recv(timeout=left))
        if frame["type"] == "ping":
            ws.send(json.dumps({"type": "pong"}))
        if want(frame):
            return frame


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[KaariServer, Settings]]:
    """A `kaari serve` process and the settings of a second instance sharing its database
    (PostgreSQL) and Redis."""
    need_redis()
    prefix = f"kaari-test-{secrets.token_hex(4)}:"
    with fresh_postgres_database() as url:
        server = KaariServer(
            {
                "KAARI_DATA_DIR": str(tmp_path / "data"),
                "KAARI_DATABASE_URL": url,
                "KAARI_REDIS_URL": REDIS_URL,
                "KAARI_REDIS_PREFIX": prefix,
                "KAARI_ARGON2_TIME_COST": "2",
            },
            tmp_path / "server.log",
        )
        try:
            server.start()
            yield (
                server,
                Settings(
                    database_url=url,
                    data_dir=str(tmp_path / "local"),
                    secret_key=SERVER_SECRET,
                    redis_url=REDIS_URL,
                    redis_prefix=prefix,
                ),
            )
        finally:
            server.stop()


@contextmanager
def open_socket(server: KaariServer, session: Session) -> Iterator[ClientConnection]:
    r = httpx.post(server.url + "/ws/ticket", headers=session.headers, timeout=10)
    assert r.status_code == 200, r.text
    url = f"ws://127.0.0.1:{server.port}/ws?ticket={r.json()['ticket']}"
    with ws_connect(url, open_timeout=10, close_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello"
        yield ws


def test_a_served_process_delivers_events_and_survives_a_pubsub_kill(
    served: tuple[KaariServer, Settings], sync_redis: redis.Redis
) -> None:
    server, local = served
    with TestClient(create_app(local)) as a:
        world: World = build_world(a, local)
        with open_socket(server, world.guardian) as ws:
            channel = device_channel(local.redis_prefix, world.guardian.device_id)
            wait_subscribed(sync_redis, channel)
            notifier = a.app.state.runtime.notifier

            def event(n: int) -> None:
                a.blocking_portal.call(
                    notifier.send_event, [world.guardian.device_id], "test_event", {"n": str(n)}
                )

            event(1)
            assert ws_receive_until(ws, is_event)["ids"] == {"n": "1"}
            # drop the pub/sub connections of this test (the server's and the local
            # instance's), and nobody else's on this Redis
            assert server.proc is not None
            ours = pubsub_clients_of(sync_redis, [server.proc.pid, os.getpid()])
            assert ours
            for client_id in ours:
                sync_redis.client_kill_filter(_id=client_id)
            # the bus reconnects with a backoff: on a loaded machine (the suite's browsers)
            # that can take more than 10 s
            wait_subscribed(sync_redis, channel, timeout=30)
            # after reconnecting the server tells the device to sync (a wake may be lost)
            resumed = ws_receive_until(ws, lambda f: f["type"] == "wake", timeout=30)
            assert resumed == {"type": "wake", "upToSeq": None}
            # an event published on a pooled connection that died with the kill is lost
            # (wake-ups are at most once by design: the device's sync is the truth); the
            # ones after it arrive
            for n in range(2, 6):
                event(n)
                try:
                    got = ws_receive_until(ws, is_event, timeout=5)
                except (TimeoutError, AssertionError):
                    continue
                assert int(got["ids"]["n"]) >= 2
                break
            else:
                pytest.fail("no event reached the device after the reconnect")
